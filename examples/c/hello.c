/*
 * The smallest Armature service in C: GET /hello?name=... from examples/contract.yaml.
 *
 *   bash ci/build-c && target/release/c/hello   # callback mode: the handler runs on core threads
 *   target/release/c/hello poll                 # pull mode: this program's thread takes requests
 *   curl 'http://127.0.0.1:8080/hello?name=C'
 *
 * Embedded defaults (port 8080; ARMATURE_SERVER__PORT and other ARMATURE_* variables
 * override them). Ctrl-C or SIGTERM stops it gracefully. docs/c-abi.md walks through it.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "armature.h"

/* Reports a failed call. Takes the error's address, not its value: C does not say in which order
 * a call's arguments are evaluated, so `check(..., armature_x(&error), error)` may read `error`
 * before armature_x has set it. Through the address it is read here, after the call. */
static int check(const char *what, ArmatureStatus status, ArmatureError **error) {
    if (status == ARMATURE_STATUS_OK) return 0;
    fprintf(stderr, "hello: %s: %s\n", what, armature_error_message(*error));
    armature_error_free(*error);
    *error = NULL;
    return 1;
}

/* Answers one request and frees both handles (the host owns them). */
static void hello(ArmatureRequest *req, ArmatureResponder *res) {
    ArmatureStr name; /* a string parameter with a schema default: always present */
    armature_request_param(req, ARMATURE_PARAM_QUERY, ARMATURE_LIT("name"), &name, NULL);
    char body[128];
    int len = snprintf(body, sizeof body, "{\"message\":\"Hello, %.*s!\"}", (int)name.len, (const char *)name.ptr);
    armature_responder_respond(res, 200, ARMATURE_LIT("application/json"), (const uint8_t *)body, (size_t)len, NULL);
    armature_responder_free(res);
    armature_request_free(req);
}

/* Callback mode: called on a core thread; must not block. */
static void on_hello(void *user_data, ArmatureRequest *req, ArmatureResponder *res) {
    (void)user_data;
    hello(req, res);
}

/* Pull mode: wait for the queue's descriptor, then take every waiting request. */
static void *event_loop(void *server) {
    int fd;
    if (armature_server_queue_fd(server, &fd, NULL) != ARMATURE_STATUS_OK) return NULL;
    ArmaturePending batch[64];
    for (;;) {
        struct pollfd watch = {.fd = fd, .events = POLLIN};
        poll(&watch, 1, -1);
        size_t taken;
        do {
            ArmatureStatus status = armature_server_try_take(server, batch, 64, &taken, NULL);
            for (size_t i = 0; i < taken; i++) hello(batch[i].request, batch[i].responder);
            if (status == ARMATURE_STATUS_CLOSED) return NULL; /* the server has stopped */
        } while (taken == 64);
    }
}

int main(int argc, char **argv) {
    int pull = argc > 1 && strcmp(argv[1], "poll") == 0;
    ArmatureConfig *config = NULL;
    ArmatureContract *contract = NULL;
    ArmatureServer *server = NULL;
    ArmatureError *error = NULL;
    pthread_t loop;
    int failed =
        check("config", armature_config_new(&config, &error), &error) ||
        check("contract", armature_contract_from_file(ARMATURE_LIT("examples/contract.yaml"), &contract, &error), &error) ||
        check("server", armature_server_new(config, contract, &server, &error), &error) ||
        check("handler",
              pull ? armature_server_set_queued(server, ARMATURE_LIT("hello"), &error)
                   : armature_server_set_handler(server, ARMATURE_LIT("hello"), on_hello, NULL, NULL, &error),
              &error) ||
        check("start", armature_server_start(server, &error), &error);
    if (!failed) {
        uint16_t port = 0;
        armature_server_port(server, &port, NULL);
        printf("hello (C, %s mode) listening on port %u\n", pull ? "pull" : "callback", port);
        fflush(stdout);
        if (pull) pthread_create(&loop, NULL, event_loop, server);
        failed = check("run", armature_server_run_until_signal(server, &error), &error);
        if (pull) pthread_join(loop, NULL);
    }
    armature_server_free(server, NULL);
    armature_contract_free(contract);
    armature_config_free(config);
    return failed;
}
