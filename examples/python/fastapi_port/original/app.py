"""Users and items: a FastAPI application in the shape of FastAPI's tutorial ("Bigger
applications", "Dependencies with yield", "Background tasks", "Lifespan events"), with the
storage kept in memory so the tests need no database.

Module-level hooks the tests use: ``reset()`` empties the store between tests;
``sent_emails`` (the background task appends to it), ``closed_sessions`` (the teardown of the
``get_db`` generator dependency appends the id of each session it closed) and ``events``
(``"startup"`` / ``"shutdown"`` from the lifespan).

The lifespan seeds two users: the admin (id 1, admin@example.com, token ``fake-token-1``) and
an inactive user (id 2, inactive@example.com, token ``fake-token-2``). A user created through
``POST /users/`` with id N gets the token ``fake-token-N``.
"""

from contextlib import asynccontextmanager
from typing import AsyncIterator, Dict, Iterator, List, Optional

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

# --------------------------------------------------------------------------- models


class UserCreate(BaseModel):
    email: str
    full_name: Optional[str] = None
    password: str


class User(BaseModel):
    id: int
    email: str
    full_name: Optional[str]
    is_active: bool


class UserInDB(User):
    hashed_password: str


class ItemCreate(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    description: Optional[str] = None
    price: float = Field(gt=0)


class Item(BaseModel):
    id: int
    title: str
    description: Optional[str]
    price: float
    owner_id: int


# --------------------------------------------------------------------------- storage

users_by_id: Dict[int, UserInDB] = {}
items_by_id: Dict[int, Item] = {}
tokens: Dict[str, int] = {}
counters: Dict[str, int] = {"user": 0, "item": 0, "session": 0}

sent_emails: List[str] = []
closed_sessions: List[int] = []
events: List[str] = []


def reset() -> None:
    """Empties the store and the hooks (the lifespan seeds the users again at startup)."""
    users_by_id.clear()
    items_by_id.clear()
    tokens.clear()
    for name in counters:
        counters[name] = 0
    sent_emails.clear()
    closed_sessions.clear()
    events.clear()


def fake_hash_password(password: str) -> str:
    return "fakehashed" + password


def insert_user(data: UserCreate, is_active: bool = True) -> UserInDB:
    counters["user"] += 1
    user = UserInDB(
        id=counters["user"],
        email=data.email,
        full_name=data.full_name,
        is_active=is_active,
        hashed_password=fake_hash_password(data.password),
    )
    users_by_id[user.id] = user
    tokens[f"fake-token-{user.id}"] = user.id
    return user


class Session:
    """A unit of work over the in-memory store, like SQLAlchemy's ``SessionLocal()``."""

    def __init__(self) -> None:
        counters["session"] += 1
        self.id = counters["session"]
        self.closed = False

    def add_user(self, data: UserCreate) -> UserInDB:
        return insert_user(data)

    def get_user(self, user_id: int) -> Optional[UserInDB]:
        return users_by_id.get(user_id)

    def list_users(self, skip: int, limit: int) -> List[UserInDB]:
        return sorted(users_by_id.values(), key=lambda user: user.id)[skip : skip + limit]

    def user_by_email(self, email: str) -> Optional[UserInDB]:
        for user in users_by_id.values():
            if user.email == email:
                return user
        return None

    def user_by_token(self, token: str) -> Optional[UserInDB]:
        user_id = tokens.get(token)
        return None if user_id is None else users_by_id.get(user_id)

    def add_item(self, data: ItemCreate, owner_id: int) -> Item:
        counters["item"] += 1
        item = Item(id=counters["item"], owner_id=owner_id, **data.model_dump())
        items_by_id[item.id] = item
        return item

    def get_item(self, item_id: int) -> Optional[Item]:
        return items_by_id.get(item_id)

    def list_items(self, q: Optional[str], skip: int, limit: int) -> List[Item]:
        found = [item for item in items_by_id.values() if q is None or q in item.title]
        return sorted(found, key=lambda item: item.id)[skip : skip + limit]

    def update_item(self, item: Item, data: ItemCreate) -> Item:
        updated = Item(id=item.id, owner_id=item.owner_id, **data.model_dump())
        items_by_id[item.id] = updated
        return updated

    def delete_item(self, item: Item) -> None:
        del items_by_id[item.id]

    def close(self) -> None:
        self.closed = True
        closed_sessions.append(self.id)


def public(user: UserInDB) -> User:
    return User(id=user.id, email=user.email, full_name=user.full_name, is_active=user.is_active)


# --------------------------------------------------------------------------- dependencies


def get_db() -> Iterator[Session]:
    db = Session()
    try:
        yield db
    finally:
        db.close()


def get_current_user(x_token: str = Header(), db: Session = Depends(get_db)) -> User:
    user = db.user_by_token(x_token)
    if user is None:
        raise HTTPException(status_code=401, detail="Invalid token")
    return public(user)


def get_current_active_user(user: User = Depends(get_current_user)) -> User:
    if not user.is_active:
        raise HTTPException(status_code=400, detail="Inactive user")
    return user


class Pagination:
    def __init__(self, skip: int = 0, limit: int = Query(10, ge=1, le=100)) -> None:
        self.skip = skip
        self.limit = limit


def verify_client(x_client_version: Optional[str] = Header(None)) -> None:
    if x_client_version == "0":
        raise HTTPException(status_code=400, detail="Unsupported client")


def send_welcome_email(email: str) -> None:
    sent_emails.append(email)


# --------------------------------------------------------------------------- routers

users = APIRouter(prefix="/users", tags=["users"])


@users.post("/", status_code=201, response_model=User)
def create_user(
    data: UserCreate, background_tasks: BackgroundTasks, db: Session = Depends(get_db)
) -> User:
    if db.user_by_email(data.email) is not None:
        raise HTTPException(status_code=400, detail="Email already registered")
    user = db.add_user(data)
    background_tasks.add_task(send_welcome_email, user.email)
    return public(user)


@users.get("/", response_model=List[User])
def list_users(page: Pagination = Depends(), db: Session = Depends(get_db)) -> List[User]:
    return [public(user) for user in db.list_users(page.skip, page.limit)]


@users.get("/me", response_model=User)
def read_me(user: User = Depends(get_current_active_user)) -> User:
    return user


@users.get("/{user_id}", response_model=User)
def read_user(user_id: int, db: Session = Depends(get_db)) -> User:
    user = db.get_user(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return public(user)


items = APIRouter(prefix="/items", tags=["items"], dependencies=[Depends(verify_client)])


def owned_item(db: Session, item_id: int, user: User) -> Item:
    item = db.get_item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    if item.owner_id != user.id:
        raise HTTPException(status_code=403, detail="Not enough permissions")
    return item


@items.post("/", status_code=201, response_model=Item)
def create_item(
    data: ItemCreate,
    user: User = Depends(get_current_active_user),
    db: Session = Depends(get_db),
) -> Item:
    return db.add_item(data, owner_id=user.id)


@items.get("/", response_model=List[Item])
def list_items(
    q: Optional[str] = None,
    page: Pagination = Depends(Pagination),
    db: Session = Depends(get_db),
) -> List[Item]:
    return db.list_items(q, page.skip, page.limit)


@items.get("/{item_id}", response_model=Item)
def read_item(item_id: int, db: Session = Depends(get_db)) -> Item:
    item = db.get_item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return item


@items.put("/{item_id}", response_model=Item)
def update_item(
    item_id: int,
    data: ItemCreate,
    user: User = Depends(get_current_active_user),
    db: Session = Depends(get_db),
) -> Item:
    return db.update_item(owned_item(db, item_id, user), data)


@items.delete("/{item_id}", status_code=204)
def delete_item(
    item_id: int,
    user: User = Depends(get_current_active_user),
    db: Session = Depends(get_db),
) -> None:
    db.delete_item(owned_item(db, item_id, user))


# --------------------------------------------------------------------------- application


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    events.append("startup")
    insert_user(UserCreate(email="admin@example.com", full_name="Admin", password="admin"))
    insert_user(
        UserCreate(email="inactive@example.com", full_name=None, password="inactive"),
        is_active=False,
    )
    yield
    events.append("shutdown")


app = FastAPI(title="Users and items", lifespan=lifespan)
app.include_router(users)
app.include_router(items)


@app.get("/health")
def health() -> Dict[str, str]:
    return {"status": "ok"}


@app.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return "1.0"
