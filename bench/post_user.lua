-- wrk script: POST /users with a valid JSON body (the benchmark's validated write).
wrk.method = "POST"
wrk.body = '{"name":"Alice","email":"alice@example.com","age":30}'
wrk.headers["Content-Type"] = "application/json"
