// Benchmark peer for ci/bench: the benchmark's endpoints written with Go's standard library
// only (net/http and encoding/json), the way a Go developer writes them without a framework.
//
// Answers on 127.0.0.1:$PORT (default 8080), HTTP/1.1:
//
//	GET  /plaintext   200 text/plain        Hello, World!
//	GET  /json        200 application/json  {"message":"Hello, World!"}
//	GET  /users/{id}  200 application/json  the user with that id (integer >= 1, else 400)
//	POST /users       201 application/json  the body with "id":1 added, password dropped (invalid body: 400)
//	GET  /ready       200 application/json  {"status":"ready"} (polled by ci/bench), /health alike
//
// GOMAXPROCS is left to the environment: ci/bench sets it.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// User is the request body of POST /users and, with the id, the response of both user routes.
// Password is only read from the request; it is cleared before encoding, so omitempty drops it.
type User struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Age      int    `json:"age"`
	Password string `json:"password,omitempty"`
}

// writeJSON encodes v as the response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("encode: %v", err)
	}
}

func ready(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func main() {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})

	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, World!"})
	})

	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			http.Error(w, "id must be an integer >= 1", http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, User{ID: id, Name: "Alice", Email: "alice@example.com", Age: 30})
	})

	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			http.Error(w, "invalid JSON body", http.StatusBadRequest)
			return
		}
		// Minimal checks, as a handler without a validation library would do them.
		if u.Name == "" || !strings.Contains(u.Email, "@") || u.Age < 0 {
			http.Error(w, "name, email and age are required and must be valid", http.StatusBadRequest)
			return
		}
		u.ID = 1
		u.Password = "" // never echoed back
		writeJSON(w, http.StatusCreated, u)
	})

	mux.HandleFunc("GET /ready", ready)
	mux.HandleFunc("GET /health", ready)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	addr := "127.0.0.1:" + port
	log.Printf("go-nethttp peer listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
