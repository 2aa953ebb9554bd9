/*
 * The conformance handlers in C, over include/armature.h: what `ci/serve c` runs.
 *
 *   conformance_service [callback|pull|poll]   (default: $SERVE_C_MODE, else callback)
 *
 * callback: each request calls its handler on a core thread.
 * pull:     one host thread blocks in armature_server_take, up to 64 requests per wake-up.
 * poll:     one host thread polls armature_server_queue_fd, then drains armature_server_try_take.
 *
 * Reads conformance/config.yaml and conformance/contract.yaml from the working directory (the
 * repository root), with ARMATURE_* environment overrides. Stops on SIGINT/SIGTERM, exits 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "armature.h"
#include "text.h"

#define BATCH 64

static void die(const char *what, ArmatureStatus status, ArmatureError *error) {
    fprintf(stderr, "conformance_service: %s: %s: %s\n", what, armature_status_name(status),
            error ? armature_error_message(error) : "");
    armature_error_free(error);
    exit(1);
}

#define CHECK(what, call)                          \
    do {                                           \
        ArmatureError *error_ = NULL;              \
        ArmatureStatus status_ = (call);           \
        if (status_ != ARMATURE_STATUS_OK) die(what, status_, error_); \
    } while (0)

/* --- answering -------------------------------------------------------------------------- */

/* Answers and frees the responder. GONE (the request timed out meanwhile) is expected. */
static void answer(ArmatureResponder *res, uint16_t status, const char *content_type, const void *body, size_t len) {
    ArmatureStatus s = armature_responder_respond(res, status, (const uint8_t *)content_type,
                                                  content_type ? strlen(content_type) : 0, body, len, NULL);
    if (s != ARMATURE_STATUS_OK && s != ARMATURE_STATUS_GONE) {
        fprintf(stderr, "conformance_service: respond: %s\n", armature_status_name(s));
    }
    armature_responder_free(res);
}

static void answer_json(ArmatureResponder *res, uint16_t status, Text *body) {
    answer(res, status, "application/json", body->data, body->len);
    text_free(body);
}

static void answer_literal_json(ArmatureResponder *res, uint16_t status, const char *json) {
    answer(res, status, "application/json", json, strlen(json));
}

static void fail(ArmatureResponder *res, const char *message) {
    armature_responder_fail(res, (const uint8_t *)message, strlen(message), NULL);
    armature_responder_free(res);
}

/* --- reading ---------------------------------------------------------------------------- */

/* Appends a parameter's JSON, or null when absent. */
static void put_param_json(Text *t, ArmatureRequest *req, ArmatureParamLocation where, const char *name) {
    ArmatureStr value;
    if (armature_request_param_json(req, where, (const uint8_t *)name, strlen(name), &value, NULL) == ARMATURE_STATUS_OK) {
        text_put(t, value.ptr, value.len);
    } else {
        text_cstr(t, "null");
    }
}

/* Appends a string value as JSON, or null when the accessor found nothing. */
static void put_string_or_null(Text *t, ArmatureStatus status, ArmatureStr value) {
    if (status == ARMATURE_STATUS_OK) {
        text_json_string(t, value.ptr, value.len);
    } else {
        text_cstr(t, "null");
    }
}

static ArmatureStr body_of(ArmatureRequest *req) {
    ArmatureStr body = {NULL, 0};
    armature_request_body(req, &body, NULL);
    return body;
}

/* Appends the body object's members except `skip`, comma-separated; -1 if not an object. */
static int put_members_except(Text *t, ArmatureStr body, const char *skip) {
    size_t pos = 0;
    Member m;
    int written = 0, more;
    while ((more = json_next_member(body.ptr, body.len, &pos, &m)) == 1) {
        if (member_is(&m, skip)) continue;
        if (written++) text_cstr(t, ",");
        text_put(t, m.key, m.key_len);
        text_cstr(t, ":");
        text_put(t, m.value, m.value_len);
    }
    return more < 0 ? -1 : written;
}

/* --- the handlers (conformance/README.md lists what each answers) ----------------------- */

typedef void (*HandlerFn)(ArmatureRequest *req, ArmatureResponder *res);

static void plaintext(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer(res, 200, "text/plain", "Hello, World!", 13);
}

static void json(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_literal_json(res, 200, "{\"message\":\"Hello, World!\"}");
}

static void get_user(ArmatureRequest *req, ArmatureResponder *res) {
    Text t = {0};
    text_cstr(&t, "{\"id\":");
    put_param_json(&t, req, ARMATURE_PARAM_PATH, "id");
    text_cstr(&t, ",\"name\":\"Alice\",\"email\":\"alice@example.com\",\"age\":30}");
    answer_json(res, 200, &t);
}

/* The body without its password, plus an id: createUser and updateUser. */
static void user_with_id(ArmatureRequest *req, ArmatureResponder *res, uint16_t status, int id_from_path) {
    Text t = {0};
    text_cstr(&t, "{");
    int members = put_members_except(&t, body_of(req), "password");
    if (members < 0) {
        text_free(&t);
        fail(res, "body is not a JSON object");
        return;
    }
    text_cstr(&t, members ? ",\"id\":" : "\"id\":");
    if (id_from_path) {
        put_param_json(&t, req, ARMATURE_PARAM_PATH, "id");
    } else {
        text_cstr(&t, "1");
    }
    text_cstr(&t, "}");
    answer_json(res, status, &t);
}

static void create_user(ArmatureRequest *req, ArmatureResponder *res) { user_with_id(req, res, 201, 0); }

static void update_user(ArmatureRequest *req, ArmatureResponder *res) { user_with_id(req, res, 200, 1); }

static void no_content(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer(res, 204, NULL, NULL, 0);
}

static void search(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr query;
    CHECK("params_json", armature_request_params_json(req, ARMATURE_PARAM_QUERY, &query, &error_));
    Text t = {0};
    text_cstr(&t, "{\"query\":");
    text_put(&t, query.ptr, query.len);
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

static void echo_headers(ArmatureRequest *req, ArmatureResponder *res) {
    static const struct {
        const char *key;
        ArmatureParamLocation where;
        const char *name;
    } fields[] = {
        {"tenant", ARMATURE_PARAM_HEADER, "X-Tenant"},
        {"count", ARMATURE_PARAM_HEADER, "X-Count"},
        {"session", ARMATURE_PARAM_COOKIE, "session"},
    };
    Text t = {0};
    text_cstr(&t, "{");
    int written = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        ArmatureStr value;
        if (armature_request_param_json(req, fields[i].where, (const uint8_t *)fields[i].name,
                                        strlen(fields[i].name), &value, NULL) != ARMATURE_STATUS_OK) {
            continue;
        }
        if (written++) text_cstr(&t, ",");
        text_json_string(&t, (const uint8_t *)fields[i].key, strlen(fields[i].key));
        text_cstr(&t, ":");
        text_put(&t, value.ptr, value.len);
    }
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

static void get_items(ArmatureRequest *req, ArmatureResponder *res) {
    Text t = {0};
    text_cstr(&t, "{\"ids\":");
    put_param_json(&t, req, ARMATURE_PARAM_PATH, "ids");
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

static void create_pet(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr body = body_of(req);
    answer(res, 201, "application/json", body.ptr, body.len);
}

static void echo_text(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr body = body_of(req);
    answer(res, 200, "text/plain", body.ptr, body.len);
}

static void context(ArmatureRequest *req, ArmatureResponder *res) {
    static const struct {
        const char *key;
        ArmatureStatus (*read)(const ArmatureRequest *, ArmatureStr *, ArmatureError **);
    } fields[] = {
        {"operation_id", armature_request_operation_id}, {"method", armature_request_method},
        {"path", armature_request_path},                 {"request_id", armature_request_request_id},
        {"trace_id", armature_request_trace_id},
    };
    Text t = {0};
    text_cstr(&t, "{");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        ArmatureStr value;
        CHECK(fields[i].key, fields[i].read(req, &value, &error_));
        if (i) text_cstr(&t, ",");
        text_json_string(&t, (const uint8_t *)fields[i].key, strlen(fields[i].key));
        text_cstr(&t, ":");
        text_json_string(&t, value.ptr, value.len);
    }
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

static void broken_response(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_literal_json(res, 200, "{\"message\":42}");
}

static void undocumented_status(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_literal_json(res, 418, "{}");
}

static void failing_handler(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    fail(res, "database exploded");
}

static void refusing_handler(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    ArmatureStatus s = armature_responder_refuse(res, 409, LIT("the handler refused this request"), NULL);
    if (s != ARMATURE_STATUS_OK && s != ARMATURE_STATUS_GONE) {
        fprintf(stderr, "conformance_service: refuse: %s\n", armature_status_name(s));
    }
    armature_responder_free(res);
}

/* slowHandler sleeps on a thread of its own: handlers must not block core threads, and the
 * answer then comes from a thread Armature never saw. Counted so that exit waits for them. */
static atomic_int sleepers;

typedef struct {
    ArmatureResponder *res;
    long ms;
} Sleeper;

static void *sleep_then_answer(void *arg) {
    Sleeper *job = arg;
    struct timespec pause = {job->ms / 1000, (job->ms % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
    Text t = {0};
    char number[32];
    snprintf(number, sizeof number, "%ld", job->ms);
    text_cstr(&t, "{\"slept_ms\":");
    text_cstr(&t, number);
    text_cstr(&t, "}");
    answer_json(job->res, 200, &t);
    free(job);
    atomic_fetch_sub(&sleepers, 1);
    return NULL;
}

static void slow_handler(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr ms;
    Sleeper *job = malloc(sizeof *job);
    if (!job) {
        fail(res, "out of memory");
        return;
    }
    job->res = res;
    job->ms = 0;
    if (armature_request_param(req, ARMATURE_PARAM_QUERY, LIT("ms"), &ms, NULL) == ARMATURE_STATUS_OK) {
        char digits[32] = {0};
        memcpy(digits, ms.ptr, ms.len < sizeof digits - 1 ? ms.len : sizeof digits - 1);
        job->ms = strtol(digits, NULL, 10);
    }
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&sleepers, 1);
    if (pthread_create(&thread, &attr, sleep_then_answer, job) != 0) {
        atomic_fetch_sub(&sleepers, 1);
        free(job);
        fail(res, "cannot start a thread");
    }
    pthread_attr_destroy(&attr);
}

static void dropped_responder(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    armature_responder_free(res); /* never answered: the pipeline answers 500 */
}

static void whoami(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr identity;
    CHECK("identity_json", armature_request_identity_json(req, &identity, &error_));
    answer(res, 200, "application/json", identity.ptr, identity.len);
}

static void list_notes(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr subject, rule;
    ArmatureStatus has_subject = armature_request_identity_subject(req, &subject, NULL);
    ArmatureStatus has_rule = armature_request_header(req, LIT("x-authz-rule"), &rule, NULL);
    Text t = {0};
    text_cstr(&t, "{\"owner\":");
    put_param_json(&t, req, ARMATURE_PARAM_PATH, "owner");
    text_cstr(&t, ",\"viewer\":");
    put_string_or_null(&t, has_subject, subject);
    text_cstr(&t, ",\"notes\":[],\"rule\":");
    put_string_or_null(&t, has_rule, rule);
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

static void create_note(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr body = body_of(req), subject;
    ArmatureStatus has_subject = armature_request_identity_subject(req, &subject, NULL);
    Text t = {0};
    text_cstr(&t, "{\"owner\":");
    put_param_json(&t, req, ARMATURE_PARAM_PATH, "owner");
    text_cstr(&t, ",\"text\":");
    size_t pos = 0;
    Member m;
    int found = 0;
    while (!found && json_next_member(body.ptr, body.len, &pos, &m) == 1) {
        if (member_is(&m, "text")) {
            text_put(&t, m.value, m.value_len);
            found = 1;
        }
    }
    if (!found) text_cstr(&t, "null");
    text_cstr(&t, ",\"author\":");
    put_string_or_null(&t, has_subject, subject);
    text_cstr(&t, "}");
    answer_json(res, 201, &t);
}

static void policy_error(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_literal_json(res, 200, "{\"message\":\"the policy should have refused this\"}");
}

/* The answer cases: core's answer rule decides content type and what nothing becomes. */

static void add_header(ArmatureResponder *res, const char *name, const char *value) {
    armature_responder_add_header(res, (const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value), NULL);
}

static void answer_kind(ArmatureResponder *res, uint16_t status, ArmatureBody kind, const char *content_type,
                        const char *body) {
    ArmatureStatus s = armature_responder_answer(res, status, kind, (const uint8_t *)content_type,
                                                 content_type ? strlen(content_type) : 0, (const uint8_t *)body,
                                                 body ? strlen(body) : 0, NULL);
    if (s != ARMATURE_STATUS_OK && s != ARMATURE_STATUS_GONE) {
        fprintf(stderr, "conformance_service: answer: %s\n", armature_status_name(s));
    }
    armature_responder_free(res);
}

static void content_type_both(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    add_header(res, "Content-Type", "text/csv");
    answer_kind(res, 200, ARMATURE_BODY_TEXT, "text/plain", "a,b");
}

static void mixed_case_headers(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    add_header(res, "content-TYPE", "text/csv");
    add_header(res, "X-Custom-HEADER", "yes");
    answer_kind(res, 200, ARMATURE_BODY_TEXT, NULL, "a,b");
}

static void nothing_ok(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_kind(res, 200, ARMATURE_BODY_NOTHING, NULL, NULL);
}

static void nothing_created(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_kind(res, 201, ARMATURE_BODY_NOTHING, NULL, NULL);
}

static void ordered_keys(ArmatureRequest *req, ArmatureResponder *res) {
    (void)req;
    answer_kind(res, 200, ARMATURE_BODY_JSON, NULL, "{\"id\":1,\"owner\":\"alice\",\"title\":\"t\",\"body\":\"b\"}");
}

static void outgoing_calls(ArmatureRequest *req, ArmatureResponder *res) {
    uint8_t first[ARMATURE_TRACEPARENT_LEN], second[ARMATURE_TRACEPARENT_LEN];
    armature_request_outgoing_traceparent(req, first, sizeof first, NULL);
    armature_request_outgoing_traceparent(req, second, sizeof second, NULL);
    ArmatureStr tracestate = {0};
    ArmatureStatus has_tracestate = armature_request_tracestate(req, &tracestate, NULL);
    Text t = {0};
    text_cstr(&t, "{\"outgoing\":[\"");
    text_put(&t, first, sizeof first);
    text_cstr(&t, "\",\"");
    text_put(&t, second, sizeof second);
    text_cstr(&t, "\"],\"tracestate\":");
    put_string_or_null(&t, has_tracestate, tracestate);
    text_cstr(&t, "}");
    answer_json(res, 200, &t);
}

typedef struct {
    const char *operation_id;
    HandlerFn handle;
} Route;

static const Route routes[] = {
    {"plaintext", plaintext},
    {"json", json},
    {"getUser", get_user},
    {"createUser", create_user},
    {"updateUser", update_user},
    {"deleteUser", no_content},
    {"search", search},
    {"echoHeaders", echo_headers},
    {"getItems", get_items},
    {"createPet", create_pet},
    {"echoText", echo_text},
    {"context", context},
    {"brokenResponse", broken_response},
    {"undocumentedStatus", undocumented_status},
    {"failingHandler", failing_handler},
    {"refusingHandler", refusing_handler},
    {"slowHandler", slow_handler},
    {"droppedResponder", dropped_responder},
    {"whoami", whoami},
    {"whoamiOptional", whoami},
    {"whoamiBasic", whoami},
    {"listNotes", list_notes},
    {"createNote", create_note},
    {"deleteNote", no_content},
    {"policyError", policy_error},
    {"contentTypeBoth", content_type_both},
    {"mixedCaseHeaders", mixed_case_headers},
    {"nothingOk", nothing_ok},
    {"nothingCreated", nothing_created},
    {"orderedKeys", ordered_keys},
    {"outgoingCalls", outgoing_calls},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* --- the two receive modes --------------------------------------------------------------- */

/* Callback mode: `user_data` is the route. The handler owns the responder; the request is freed here. */
static void on_request(void *user_data, ArmatureRequest *req, ArmatureResponder *res) {
    const Route *route = user_data;
    route->handle(req, res);
    armature_request_free(req);
}

/* Pull modes: find the route by the operation id the core matched. */
static void dispatch(ArmaturePending pending) {
    ArmatureStr id;
    armature_request_operation_id(pending.request, &id, NULL);
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (strlen(routes[i].operation_id) == id.len && memcmp(routes[i].operation_id, id.ptr, id.len) == 0) {
            routes[i].handle(pending.request, pending.responder);
            armature_request_free(pending.request);
            return;
        }
    }
    fail(pending.responder, "no route"); /* cannot happen: only routed operations are queued */
    armature_request_free(pending.request);
}

static void *pull_loop(void *arg) {
    ArmatureServer *server = arg;
    ArmaturePending batch[BATCH];
    for (;;) {
        size_t taken = 0;
        ArmatureStatus status = armature_server_take(server, batch, BATCH, -1, &taken, NULL);
        for (size_t i = 0; i < taken; i++) dispatch(batch[i]);
        if (status == ARMATURE_STATUS_CLOSED) return NULL;
        if (status != ARMATURE_STATUS_OK) die("take", status, NULL);
    }
}

static void *poll_loop(void *arg) {
    ArmatureServer *server = arg;
    int fd;
    CHECK("queue_fd", armature_server_queue_fd(server, &fd, &error_));
    ArmaturePending batch[BATCH];
    for (;;) {
        struct pollfd watch = {.fd = fd, .events = POLLIN};
        if (poll(&watch, 1, -1) < 0 && errno != EINTR) die("poll", ARMATURE_STATUS_IO, NULL);
        for (;;) {
            size_t taken = 0;
            ArmatureStatus status = armature_server_try_take(server, batch, BATCH, &taken, NULL);
            for (size_t i = 0; i < taken; i++) dispatch(batch[i]);
            if (status == ARMATURE_STATUS_CLOSED) return NULL;
            if (status != ARMATURE_STATUS_OK) die("try_take", status, NULL);
            if (taken == BATCH) continue;
            if (taken == 0) break; /* nothing came while we yielded: sleep in poll */
            /* Fewer than asked: yield the CPU once and take again before sleeping. A core thread
             * sharing this CPU then finishes the requests it is working on, and the next take
             * gets them all, instead of one wake-up (and two context switches) per request. */
            sched_yield();
        }
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : getenv("SERVE_C_MODE");
    if (!mode || !*mode) mode = "callback";
    void *(*host_loop)(void *) = NULL;
    if (strcmp(mode, "pull") == 0) {
        host_loop = pull_loop;
    } else if (strcmp(mode, "poll") == 0) {
        host_loop = poll_loop;
    } else if (strcmp(mode, "callback") != 0) {
        fprintf(stderr, "usage: conformance_service [callback|pull|poll]\n");
        return 2;
    }
    if (armature_abi_version() != ARMATURE_ABI_VERSION) {
        fprintf(stderr, "conformance_service: built for ABI %d, library has %u\n", ARMATURE_ABI_VERSION,
                armature_abi_version());
        return 2;
    }

    ArmatureConfig *config;
    ArmatureContract *contract;
    ArmatureServer *server;
    CHECK("config", armature_config_from_file(LIT("conformance/config.yaml"), &config, &error_));
    CHECK("contract", armature_contract_from_file(LIT("conformance/contract.yaml"), &contract, &error_));
    CHECK("server", armature_server_new(config, contract, &server, &error_));
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const uint8_t *id = (const uint8_t *)routes[i].operation_id;
        size_t len = strlen(routes[i].operation_id);
        if (host_loop) {
            CHECK(routes[i].operation_id, armature_server_set_queued(server, id, len, &error_));
        } else {
            CHECK(routes[i].operation_id,
                  armature_server_set_handler(server, id, len, on_request, (void *)&routes[i], NULL, &error_));
        }
    }
    CHECK("start", armature_server_start(server, &error_));
    uint16_t port;
    CHECK("port", armature_server_port(server, &port, &error_));
    printf("armature conformance service (c, %s mode) listening on port %u\n", mode, port);
    fflush(stdout);

    pthread_t host;
    if (host_loop && pthread_create(&host, NULL, host_loop, server) != 0) die("host thread", ARMATURE_STATUS_IO, NULL);
    CHECK("run", armature_server_run_until_signal(server, &error_));
    if (host_loop) pthread_join(host, NULL); /* returns once the queue reports CLOSED */
    while (atomic_load(&sleepers) > 0) {
        struct timespec tick = {0, 10 * 1000000L};
        nanosleep(&tick, NULL);
    }
    CHECK("free", armature_server_free(server, &error_));
    armature_contract_free(contract);
    armature_config_free(config);
    return 0;
}
