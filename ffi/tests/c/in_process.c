/*
 * The ABI entries a host like Go builds on, through the header as a C host sees them: a
 * contract declared in code (armature_contract_with_operations), its operation ids, the
 * address and request timeout, the outgoing traceparent, and requests run in-process
 * (armature_server_inject, armature_response_*) through the whole pipeline with no socket.
 * Run natively and under valgrind by ci/test-c. Exit status: 0 when all hold.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>

#include "armature.h"
#include "expect.h"
#include "text.h"

static const char operations_json[] =
    "[{\"method\":\"GET\",\"path\":\"/hello/{name}\",\"operation_id\":\"hello\","
    "\"path_params\":{\"name\":{\"type\":\"string\",\"maxLength\":8}},"
    "\"responses\":[{\"status\":200,\"media_type\":\"text/plain\",\"schema\":{\"type\":\"string\"}}]},"
    "{\"method\":\"POST\",\"path\":\"/echo\",\"operation_id\":\"echo\","
    "\"request_body\":{\"schema\":{\"type\":\"object\",\"required\":[\"x\"]}}}]";

static int str_is(ArmatureStr s, const char *expected) {
    return s.len == strlen(expected) && (s.len == 0 || memcmp(s.ptr, expected, s.len) == 0);
}

/* Answers with "hello <name>" and the outgoing traceparent in a header. */
static void hello(void *user_data, ArmatureRequest *req, ArmatureResponder *res) {
    (void)user_data;
    ArmatureStr name = {0}, traceparent = {0}, trace_id = {0};
    armature_request_param(req, ARMATURE_PARAM_PATH, LIT("name"), &name, NULL);
    armature_request_traceparent(req, &traceparent, NULL);
    armature_request_trace_id(req, &trace_id, NULL);
    /* 00-<trace id>-<span id>-<flags> */
    EXPECT(traceparent.len == 55 && trace_id.len == 32 && memcmp(traceparent.ptr + 3, trace_id.ptr, 32) == 0);
    /* Each outgoing call: the same trace and flags, a span id of its own. */
    uint8_t call1[ARMATURE_TRACEPARENT_LEN], call2[ARMATURE_TRACEPARENT_LEN], small[10], flags = 0;
    EXPECT_STATUS(armature_request_outgoing_traceparent(req, call1, sizeof call1, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_request_outgoing_traceparent(req, call2, sizeof call2, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_request_outgoing_traceparent(req, small, sizeof small, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT(memcmp(call1, traceparent.ptr, 36) == 0 && memcmp(call1 + 52, traceparent.ptr + 52, 3) == 0);
    EXPECT(memcmp(call1 + 36, call2 + 36, 16) != 0 && memcmp(call1 + 36, traceparent.ptr + 36, 16) != 0);
    EXPECT_STATUS(armature_request_trace_flags(req, &flags, NULL), ARMATURE_STATUS_OK);
    EXPECT(flags == 0x03); /* a new trace: sampled, random trace id */
    ArmatureStr tracestate = {0};
    EXPECT_STATUS(armature_request_tracestate(req, &tracestate, NULL), ARMATURE_STATUS_NOT_FOUND);
    /* An outgoing call as a client span: its own span id, the request's trace and flags. Tracing
     * is off here, so nothing is recorded; core/tests/spans.rs checks what is exported. */
    ArmatureOutgoingCall *call = NULL;
    EXPECT_STATUS(armature_request_begin_call(req, NULL, 0, ARMATURE_LIT("GET"), ARMATURE_LIT("http://inventory/stock?token=x"),
                                              &call, NULL),
                  ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT(call == NULL);
    EXPECT_STATUS(armature_request_begin_call(req, ARMATURE_LIT("GET"), ARMATURE_LIT("GET"),
                                              ARMATURE_LIT("http://inventory/stock?token=x"), &call, NULL),
                  ARMATURE_STATUS_OK);
    uint8_t call3[ARMATURE_TRACEPARENT_LEN];
    EXPECT_STATUS(armature_outgoing_call_traceparent(call, call3, sizeof call3, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_outgoing_call_traceparent(call, small, sizeof small, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT(memcmp(call3, traceparent.ptr, 36) == 0 && memcmp(call3 + 52, traceparent.ptr + 52, 3) == 0);
    EXPECT(memcmp(call3 + 36, traceparent.ptr + 36, 16) != 0 && memcmp(call3 + 36, call1 + 36, 16) != 0);
    EXPECT_STATUS(armature_outgoing_call_tracestate(call, &tracestate, NULL), ARMATURE_STATUS_NOT_FOUND);
    EXPECT(armature_outgoing_call_is_recording(call) == 0);
    armature_outgoing_call_end(call, 200, NULL, 0);
    armature_outgoing_call_end(NULL, 0, NULL, 0);
    Text body = {0};
    text_put(&body, "hello ", 6);
    text_put(&body, name.ptr, name.len);
    armature_responder_add_header(res, LIT("x-outgoing-traceparent"), traceparent.ptr, traceparent.len, NULL);
    armature_responder_respond(res, 200, LIT("text/plain"), (const uint8_t *)body.data, body.len, NULL);
    free(body.data);
    armature_request_free(req);
    armature_responder_free(res);
}

static void echo(void *user_data, ArmatureRequest *req, ArmatureResponder *res) {
    (void)user_data;
    ArmatureStr body = {0};
    armature_request_body(req, &body, NULL);
    /* The answer rule refuses an unknown body kind and a second content type before sending
     * anything: the responder is still there to answer. */
    EXPECT_STATUS(armature_responder_answer(res, 200, 99, NULL, 0, NULL, 0, NULL), ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(armature_responder_add_header(res, LIT("Content-Type"), LIT("a/b"), NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_responder_add_header(res, LIT("content-type"), LIT("c/d"), NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_responder_answer(res, 200, ARMATURE_BODY_TEXT, NULL, 0, LIT("x"), NULL),
                  ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(armature_responder_add_header(res, LIT("Content-LENGTH"), LIT("1"), NULL),
                  ARMATURE_STATUS_INVALID_ARGUMENT);
    armature_responder_respond(res, 200, LIT("application/json"), body.ptr, body.len, NULL);
    armature_request_free(req);
    armature_responder_free(res);
}

/* Pull mode in-process: takes until the queue closes, answering each request with its body. */
static void *pull_until_closed(void *server) {
    ArmaturePending batch[8];
    for (;;) {
        size_t taken = 0;
        ArmatureStatus status = armature_server_take(server, batch, 8, -1, &taken, NULL);
        for (size_t i = 0; i < taken; i++) echo(NULL, batch[i].request, batch[i].responder);
        if (status == ARMATURE_STATUS_CLOSED) return NULL;
        if (status != ARMATURE_STATUS_OK) {
            failures++;
            return NULL;
        }
    }
}

/* One in-process request; returns its status and writes its body and x-outgoing-traceparent. */
static uint16_t inject(ArmatureServer *server, const char *method, const char *target, const char *body,
                       Text *answer, int *has_request_id) {
    ArmatureHeaderLine lines[2] = {
        {{LIT("content-type")}, {LIT("application/json")}},
        {{LIT("host")}, {LIT("service")}},
    };
    ArmatureResponse *response = NULL;
    ArmatureError *error = NULL;
    ArmatureStatus status = armature_server_inject(server, (const uint8_t *)method, strlen(method),
                                                   (const uint8_t *)target, strlen(target), lines, 2,
                                                   (const uint8_t *)body, strlen(body), &response, &error);
    if (status != ARMATURE_STATUS_OK) {
        fprintf(stderr, "FAIL inject %s %s: %s\n", method, target, armature_error_message(error));
        armature_error_free(error);
        failures++;
        return 0;
    }
    uint16_t code = 0;
    size_t count = 0;
    ArmatureStr name, value, bytes;
    EXPECT_STATUS(armature_response_status(response, &code, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_response_header_count(response, &count, NULL), ARMATURE_STATUS_OK);
    *has_request_id = 0;
    for (size_t i = 0; i < count; i++) {
        EXPECT_STATUS(armature_response_header_at(response, i, &name, &value, NULL), ARMATURE_STATUS_OK);
        if (str_is(name, "x-request-id") && value.len > 0) *has_request_id = 1;
    }
    EXPECT_STATUS(armature_response_header_at(response, count, &name, &value, NULL), ARMATURE_STATUS_NOT_FOUND);
    EXPECT_STATUS(armature_response_body(response, &bytes, NULL), ARMATURE_STATUS_OK);
    answer->len = 0;
    text_put(answer, bytes.ptr, bytes.len);
    armature_response_free(response);
    return code;
}

int main(void) {
    ArmatureContract *contract = NULL, *twice = NULL;
    ArmatureConfig *config = NULL;
    ArmatureServer *server = NULL;
    ArmatureError *error = NULL;

    /* Code-first contract: operations JSON over no base; bad JSON and a taken operationId refused. */
    EXPECT_STATUS(armature_contract_with_operations(NULL, LIT("[{"), &contract, &error), ARMATURE_STATUS_INVALID_ARGUMENT);
    armature_error_free(error);
    EXPECT_STATUS(armature_contract_with_operations(NULL, LIT(operations_json), &contract, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_contract_with_operations(contract, LIT(operations_json), &twice, &error), ARMATURE_STATUS_CONTRACT);
    EXPECT(error && strstr(armature_error_message(error), "hello"));
    armature_error_free(error);
    EXPECT_STATUS(armature_contract_with_operations(NULL, LIT("[]"), NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);

    /* Core names code-first operations declared without an id, for every binding. */
    uint8_t id[64], small_id[4];
    size_t id_len = 0;
    EXPECT_STATUS(armature_default_operation_id(LIT("GET"), LIT("/users/{id}"), id, sizeof id, &id_len, NULL),
                  ARMATURE_STATUS_OK);
    EXPECT(id_len == 12 && memcmp(id, "getUsersById", 12) == 0);
    EXPECT_STATUS(armature_default_operation_id(LIT("GET"), LIT("/users/{id}"), small_id, sizeof small_id, &id_len, NULL),
                  ARMATURE_STATUS_INVALID_ARGUMENT);
    EXPECT(id_len == 12);
    EXPECT(armature_header_is_reserved(LIT("Content-Length")) && armature_header_is_reserved(LIT("upgrade")));
    EXPECT(!armature_header_is_reserved(LIT("content-type")) && !armature_header_is_reserved(NULL, 3));

    ArmatureStr ids = {0};
    EXPECT_STATUS(armature_contract_operation_ids_json(contract, &ids, NULL), ARMATURE_STATUS_OK);
    EXPECT(str_is(ids, "[\"echo\",\"hello\"]") || str_is(ids, "[\"hello\",\"echo\"]"));
    EXPECT_STATUS(armature_contract_operation_ids_json(NULL, &ids, NULL), ARMATURE_STATUS_NULL_ARGUMENT);

    EXPECT_STATUS(armature_config_from_str(LIT("server: {request_timeout_ms: 1234}\n"), ARMATURE_CONFIG_FORMAT_YAML,
                                           &config, NULL),
                  ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_config_set_address(config, LIT("127.0.0.1"), 0, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_config_set_address(NULL, LIT("127.0.0.1"), 0, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_server_new(config, contract, &server, NULL), ARMATURE_STATUS_OK);
    uint64_t timeout_ms = 0;
    EXPECT_STATUS(armature_server_request_timeout_ms(server, &timeout_ms, NULL), ARMATURE_STATUS_OK);
    EXPECT(timeout_ms == 1234);
    EXPECT_STATUS(armature_server_set_handler(server, LIT("hello"), hello, NULL, NULL, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_set_handler(server, LIT("echo"), echo, NULL, NULL, NULL), ARMATURE_STATUS_OK);

    /* The whole pipeline, with no socket and the server never started. */
    Text answer = {0};
    int has_request_id = 0;
    EXPECT(inject(server, "GET", "/hello/ada", "", &answer, &has_request_id) == 200);
    EXPECT(answer.len == 9 && memcmp(answer.data, "hello ada", 9) == 0 && has_request_id);
    EXPECT(inject(server, "GET", "/hello/far-too-long-a-name", "", &answer, &has_request_id) == 400);
    EXPECT(strstr(answer.data, "request-validation") != NULL);
    EXPECT(inject(server, "POST", "/echo", "{\"x\":1}", &answer, &has_request_id) == 200);
    EXPECT(answer.len == 7 && memcmp(answer.data, "{\"x\":1}", 7) == 0);
    EXPECT(inject(server, "POST", "/echo", "{}", &answer, &has_request_id) == 400);
    EXPECT(inject(server, "GET", "/nowhere", "", &answer, &has_request_id) == 404);
    /* Handlers are frozen from the first in-process request on. */
    EXPECT_STATUS(armature_server_set_handler(server, LIT("hello"), hello, NULL, NULL, NULL), ARMATURE_STATUS_ALREADY_STARTED);

    /* Misuse: NULL out, an invalid method, a NULL headers array with a count. */
    ArmatureResponse *response = NULL;
    EXPECT_STATUS(armature_server_inject(server, LIT("GET"), LIT("/hello/x"), NULL, 0, NULL, 0, NULL, NULL),
                  ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_server_inject(server, LIT("G E T"), LIT("/hello/x"), NULL, 0, NULL, 0, &response, &error),
                  ARMATURE_STATUS_INVALID_ARGUMENT);
    armature_error_free(error);
    EXPECT_STATUS(armature_server_inject(server, LIT("GET"), LIT("/hello/x"), NULL, 3, NULL, 0, &response, NULL),
                  ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_server_inject(NULL, LIT("GET"), LIT("/hello/x"), NULL, 0, NULL, 0, &response, NULL),
                  ARMATURE_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(armature_response_status(NULL, NULL, NULL), ARMATURE_STATUS_NULL_ARGUMENT);
    armature_response_free(NULL);

    /* Pull mode, in-process only: the host ends its taking loop by shutting down the server it
     * never started, which closes the queue. */
    ArmatureServer *pulled = NULL;
    pthread_t taker;
    EXPECT_STATUS(armature_server_new(config, contract, &pulled, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_set_queued(pulled, LIT("echo"), NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_set_handler(pulled, LIT("hello"), hello, NULL, NULL, NULL), ARMATURE_STATUS_OK);
    EXPECT_STATUS(armature_server_shutdown(pulled, NULL), ARMATURE_STATUS_NOT_STARTED); /* nothing built yet */
    EXPECT(pthread_create(&taker, NULL, pull_until_closed, pulled) == 0);
    EXPECT(inject(pulled, "POST", "/echo", "{\"x\":2}", &answer, &has_request_id) == 200);
    EXPECT(answer.len == 7 && memcmp(answer.data, "{\"x\":2}", 7) == 0);
    EXPECT_STATUS(armature_server_shutdown(pulled, NULL), ARMATURE_STATUS_OK);
    EXPECT(pthread_join(taker, NULL) == 0); /* take answered CLOSED: the loop ended */
    EXPECT(inject(pulled, "POST", "/echo", "{\"x\":3}", &answer, &has_request_id) == 503);
    EXPECT_STATUS(armature_server_free(pulled, NULL), ARMATURE_STATUS_OK);

    free(answer.data);
    EXPECT_STATUS(armature_server_free(server, NULL), ARMATURE_STATUS_OK);
    armature_config_free(config);
    armature_contract_free(contract);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("in_process: all checks hold\n");
    return 0;
}
