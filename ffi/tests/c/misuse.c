/*
 * The ABI's error paths, through the header as a C host sees them: NULL pointers, invalid
 * UTF-8, bad arguments, calls in the wrong life-cycle state, a second finish, use after
 * finish, a request that timed out, freeing a running server. Every misuse must give a
 * status, never a crash. Run under valgrind by ci/test-c. Exit status: 0 when all hold.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "armature.h"
#include "expect.h"
#include "text.h"

static const char contract_yaml[] =
    "openapi: 3.1.0\n"
    "info: {title: misuse, version: '1'}\n"
    "paths:\n"
    "  /plaintext:\n"
    "    get:\n"
    "      operationId: plaintext\n"
    "      responses:\n"
    "        '200': {description: ok, content: {text/plain: {schema: {type: string}}}}\n"
    "  /other:\n"
    "    get:\n"
    "      operationId: other\n"
    "      responses:\n"
    "        '200': {description: ok}\n";

static const char config_yaml[] =
    "server: {host: 127.0.0.1, port: 0, request_timeout_ms: 300, drain_delay_ms: 0}\n";

/* Sends a request line on a new connection and returns the socket (the answer is read later). */
static int send_request(uint16_t port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        exit(1);
    }
    char request[256];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path);
    if (write(fd, request, (size_t)n) != n) {
        perror("write");
        exit(1);
    }
    return fd;
}

/* Reads the whole answer (the server closes: Connection: close). */
static void read_answer(int fd, Text *answer) {
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) text_put(answer, chunk, (size_t)n);
    close(fd);
}

static int freed_user_data;

static void count_free(void *user_data) {
    (void)user_data;
    freed_user_data++;
}

static void never_called(void *user_data, ArmatureRequest *req, ArmatureResponder *res) {
    (void)user_data;
    armature_request_free(req);
    armature_responder_free(res);
}

static void null_arguments(void) {
    ArmatureError *error = NULL;
    EXPECT_STATUS(armature_config_new(NULL, &error), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT(error != NULL && armature_error_status(error) == ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT(error != NULL && strstr(armature_error_message(error), "out") != NULL);
    armature_error_free(error);

    ArmatureServer *server = NULL;
    EXPECT_STATUS(armature_server_new(NULL, NULL, &server, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT(server == NULL);
    ArmatureStr text;
    EXPECT_STATUS(armature_request_method(NULL, &text, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_responder_finish(NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_server_start(NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_config_from_file(NULL, 5, NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT(armature_error_status(NULL) == ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT(strcmp(armature_error_message(NULL), "") == 0);
    EXPECT(strcmp(armature_status_name(12345), "ARMATURE_STATUS_UNKNOWN") == 0);
    /* Frees of NULL do nothing. */
    armature_error_free(NULL);
    armature_config_free(NULL);
    armature_contract_free(NULL);
    armature_request_free(NULL);
    armature_responder_free(NULL);
    EXPECT_STATUS(armature_server_free(NULL, NULL), ARMATURE_STATUS_OK);
}

static void bad_documents(void) {
    ArmatureConfig *config = NULL;
    ArmatureContract *contract = NULL;
    ArmatureError *error = NULL;
    EXPECT_STATUS(armature_config_from_str((const uint8_t *)"server: {port: \xff}", 17, ARMATURE_CONFIG_FORMAT_YAML,
                                           &config, NULL),
                  ARMATURE_STATUS_INVALID_UTF8);
    EXPECT_STATUS(armature_config_from_str(LIT("{}"), 7, &config, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(armature_config_from_str(LIT("server: {prot: 1}"), ARMATURE_CONFIG_FORMAT_YAML, &config, &error),
                  ARMATURE_STATUS_CONFIG);
    EXPECT(error != NULL && strstr(armature_error_message(error), "prot") != NULL);
    armature_error_free(error);
    EXPECT_STATUS(armature_config_from_file(LIT("/nonexistent/armature.yaml"), &config, NULL), ARMATURE_STATUS_CONFIG);
    EXPECT_STATUS(armature_contract_from_str(LIT("openapi: 3.1.0\npaths: 12\n"), &contract, NULL),
                  ARMATURE_STATUS_CONTRACT);
    EXPECT(config == NULL && contract == NULL);
}

int main(void) {
    EXPECT(armature_abi_version() == ARMATURE_ABI_VERSION);
    EXPECT(armature_version() ==
           ARMATURE_VERSION_MAJOR * 10000u + ARMATURE_VERSION_MINOR * 100u + ARMATURE_VERSION_PATCH);
    null_arguments();
    bad_documents();

    ArmatureConfig *config;
    ArmatureContract *contract;
    ArmatureServer *server;
    EXPECT_STATUS(armature_config_from_str(LIT(config_yaml), ARMATURE_CONFIG_FORMAT_YAML, &config, NULL),
                  ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_contract_from_str(LIT(contract_yaml), &contract, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_new(config, contract, &server, NULL), ARMATURE_STATUS_OK);

    /* Registration errors leave user_data with the caller: count_free must not run for them. */
    EXPECT_STATUS(armature_server_set_handler(server, (const uint8_t *)"\xff\xfe", 2, never_called, NULL, count_free, NULL),
                  ARMATURE_STATUS_INVALID_UTF8);
    EXPECT_STATUS(armature_server_set_handler(server, LIT("nope"), never_called, NULL, count_free, NULL),
                  ARMATURE_STATUS_UNKNOWN_OPERATION);
    EXPECT_STATUS(armature_server_set_handler(server, LIT("other"), NULL, NULL, count_free, NULL),
                  ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_server_set_handler(server, LIT("other"), never_called, NULL, count_free, NULL),
                  ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_set_queued(server, LIT("other"), NULL), ARMATURE_STATUS_DUPLICATE_HANDLER);
    EXPECT_STATUS(armature_server_set_queued(server, LIT("plaintext"), NULL), ARMATURE_STATUS_OK);
    EXPECT(freed_user_data == 0);

    /* Before start. */
    uint16_t port = 0;
    EXPECT_STATUS(armature_server_port(server, &port, NULL), ARMATURE_STATUS_NOT_STARTED);
    EXPECT_STATUS(armature_server_shutdown(server, NULL), ARMATURE_STATUS_NOT_STARTED);
    EXPECT_STATUS(armature_server_wait(server, NULL), ARMATURE_STATUS_NOT_STARTED);
    EXPECT_STATUS(armature_server_reload(server, NULL), ARMATURE_STATUS_OK); /* read at start */
    EXPECT_STATUS(armature_server_reload(NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    ArmaturePending batch[4];
    size_t taken = 99;
    EXPECT_STATUS(armature_server_try_take(server, batch, 4, &taken, NULL), ARMATURE_STATUS_OK);
    EXPECT(taken == 0);
    EXPECT_STATUS(armature_server_take(server, batch, 4, 10, &taken, NULL), ARMATURE_STATUS_OK);
    EXPECT(taken == 0);
    EXPECT_STATUS(armature_server_take(server, batch, 0, 10, &taken, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(armature_server_take(server, NULL, 4, 10, &taken, NULL), ARMATURE_STATUS_NULL_ARGUMENT);

    EXPECT_STATUS(armature_server_start(server, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_start(server, NULL), ARMATURE_STATUS_ALREADY_STARTED);
    EXPECT_STATUS(armature_server_set_queued(server, LIT("plaintext"), NULL), ARMATURE_STATUS_ALREADY_STARTED);
    EXPECT_STATUS(armature_server_port(server, &port, NULL), ARMATURE_STATUS_OK);
    EXPECT(port != 0);
    EXPECT_STATUS(armature_server_reload(server, NULL), ARMATURE_STATUS_OK);
    ArmatureError *error = NULL;
    EXPECT_STATUS(armature_server_free(server, &error), ARMATURE_STATUS_RUNNING);
    EXPECT(error != NULL && armature_error_status(error) == ARMATURE_STATUS_RUNNING);
    armature_error_free(error);

    /* One request, answered; then every misuse of its handles. */
    int client = send_request(port, "/plaintext?x=1");
    EXPECT_STATUS(armature_server_take(server, batch, 4, 5000, &taken, NULL), ARMATURE_STATUS_OK);
    EXPECT(taken == 1);
    if (taken == 1) {
        ArmatureRequest *req = batch[0].request;
        ArmatureResponder *res = batch[0].responder;
        ArmatureStr value, name;
        EXPECT_STATUS(armature_request_query(req, &value, NULL), ARMATURE_STATUS_OK);
        EXPECT(value.len == 3 && memcmp(value.ptr, "x=1", 3) == 0);
        EXPECT_STATUS(armature_request_header(req, LIT("HOST"), &value, NULL), ARMATURE_STATUS_OK);
        EXPECT(value.len == 4 && memcmp(value.ptr, "test", 4) == 0);
        EXPECT_STATUS(armature_request_header(req, LIT("x-missing"), &value, &error), ARMATURE_STATUS_NOT_FOUND);
        EXPECT(error == NULL && value.len == 0);
        EXPECT_STATUS(armature_request_header(req, (const uint8_t *)"\xc3", 1, &value, NULL), ARMATURE_STATUS_INVALID_UTF8);
        size_t count = 0;
        EXPECT_STATUS(armature_request_header_count(req, &count, NULL), ARMATURE_STATUS_OK);
        EXPECT(count >= 2);
        EXPECT_STATUS(armature_request_header_at(req, count, &name, &value, NULL), ARMATURE_STATUS_NOT_FOUND);
        EXPECT_STATUS(armature_request_header_at(req, 0, NULL, &value, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
        EXPECT_STATUS(armature_request_param(req, 9, LIT("x"), &value, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_request_param(req, ARMATURE_PARAM_QUERY, LIT("x"), &value, NULL),
                      ARMATURE_STATUS_NOT_FOUND); /* not declared by the contract */
        EXPECT_STATUS(armature_request_identity_subject(req, &value, NULL), ARMATURE_STATUS_NOT_FOUND);
        EXPECT_STATUS(armature_request_method(req, NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);

        EXPECT_STATUS(armature_responder_set_status(res, 99, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_set_status(res, 1000, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        /* The answer rule (docs/dispatch.md): final statuses 200-599, no framing headers. */
        EXPECT_STATUS(armature_responder_set_status(res, 101, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_set_status(res, 600, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("Content-Length"), LIT("99"), NULL),
                      ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("transfer-encoding"), LIT("chunked"), NULL),
                      ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("bad name"), LIT("v"), NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("x-ok"), LIT("line\nbreak"), NULL),
                      ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("x-ok"), LIT("yes"), NULL), ARMATURE_STATUS_OK);
        EXPECT_STATUS(armature_responder_set_body(res, NULL, 3, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
        /* A refusal must carry an error status; a refused call leaves the responder unanswered. */
        EXPECT_STATUS(armature_responder_refuse(res, 200, LIT("fine"), NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(armature_responder_refuse(res, 600, LIT("odd"), NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
        bool waiting = false;
        EXPECT_STATUS(armature_responder_is_waiting(res, &waiting, NULL), ARMATURE_STATUS_OK);
        EXPECT(waiting);
        EXPECT_STATUS(armature_responder_set_body(res, LIT("Hello"), NULL), ARMATURE_STATUS_OK);
        EXPECT_STATUS(armature_responder_set_status(res, 200, NULL), ARMATURE_STATUS_OK);
        EXPECT_STATUS(armature_responder_add_header(res, LIT("content-type"), LIT("text/plain"), NULL), ARMATURE_STATUS_OK);
        EXPECT_STATUS(armature_responder_finish(res, NULL), ARMATURE_STATUS_OK);
        EXPECT_STATUS(armature_responder_finish(res, &error), ARMATURE_STATUS_ALREADY_FINISHED);
        EXPECT(error != NULL && strstr(armature_error_message(error), "already") != NULL);
        armature_error_free(error);
        EXPECT_STATUS(armature_responder_set_status(res, 201, NULL), ARMATURE_STATUS_ALREADY_FINISHED);
        EXPECT_STATUS(armature_responder_respond(res, 200, NULL, 0, NULL, 0, NULL), ARMATURE_STATUS_ALREADY_FINISHED);
        EXPECT_STATUS(armature_responder_fail(res, LIT("late"), NULL), ARMATURE_STATUS_ALREADY_FINISHED);
        EXPECT_STATUS(armature_responder_refuse(res, 409, LIT("late"), NULL), ARMATURE_STATUS_ALREADY_FINISHED);
        EXPECT_STATUS(armature_responder_is_waiting(res, &waiting, NULL), ARMATURE_STATUS_OK);
        EXPECT(!waiting);
        armature_responder_free(res);
        armature_request_free(req);
    }
    Text answer = {0};
    read_answer(client, &answer);
    EXPECT(answer.data && strncmp(answer.data, "HTTP/1.1 200", 12) == 0);
    EXPECT(answer.data && strstr(answer.data, "x-ok: yes") != NULL);
    EXPECT(answer.data && strstr(answer.data, "\r\n\r\nHello") != NULL);
    text_free(&answer);

    /* A request answered after its timeout (300 ms): GONE for the host, 504 for the client. */
    client = send_request(port, "/plaintext");
    EXPECT_STATUS(armature_server_take(server, batch, 4, 5000, &taken, NULL), ARMATURE_STATUS_OK);
    EXPECT(taken == 1);
    if (taken == 1) {
        struct timespec pause = {0, 600 * 1000000L};
        nanosleep(&pause, NULL);
        EXPECT_STATUS(armature_responder_respond(batch[0].responder, 200, LIT("text/plain"), LIT("late"), NULL),
                      ARMATURE_STATUS_GONE);
        EXPECT_STATUS(armature_responder_finish(batch[0].responder, NULL), ARMATURE_STATUS_ALREADY_FINISHED);
        armature_responder_free(batch[0].responder);
        armature_request_free(batch[0].request);
    }
    read_answer(client, &answer);
    EXPECT(answer.data && strncmp(answer.data, "HTTP/1.1 504", 12) == 0);
    text_free(&answer);

    /* Stop: takers then see CLOSED, and the server may be freed (calling count_free once). */
    int fd = -1;
    EXPECT_STATUS(armature_server_queue_fd(server, &fd, NULL), ARMATURE_STATUS_OK);
    EXPECT(fd >= 0);
    EXPECT_STATUS(armature_server_shutdown(server, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_shutdown(server, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_wait(server, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_take(server, batch, 4, -1, &taken, NULL), ARMATURE_STATUS_CLOSED);
    EXPECT_STATUS(armature_server_try_take(server, batch, 4, &taken, NULL), ARMATURE_STATUS_CLOSED);
    EXPECT_STATUS(armature_server_port(server, &port, NULL), ARMATURE_STATUS_OK);
    EXPECT(freed_user_data == 0);
    EXPECT_STATUS(armature_server_free(server, NULL), ARMATURE_STATUS_OK);
    EXPECT(freed_user_data == 1);
    armature_contract_free(contract);
    armature_config_free(config);

    if (failures) {
        fprintf(stderr, "misuse: %d expectation(s) failed\n", failures);
        return 1;
    }
    printf("misuse: all expectations held\n");
    return 0;
}
