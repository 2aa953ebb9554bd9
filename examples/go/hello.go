// The Go quick start: a service declared in code, with a validated JSON body, that drains on
// SIGTERM or SIGINT and exits 0.
//
//	cargo build --release -p armature-ffi                        # libarmature.a, armature-static.pc
//	PKG_CONFIG_PATH=$PWD/target/release go -C examples/go run -tags armature_pkgconfig .  # this file, port 8080
//	curl localhost:8080/hello/ada
//	curl -X POST localhost:8080/greetings -H 'content-type: application/json' -d '{"name": "Ada", "times": 2}'
//	curl localhost:8080/openapi.json
//
// Every request goes through the whole pipeline: request id, trace context, validation of the
// body against the schema declared here, problem responses, telemetry.
package main

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"armature.dev/go"
)

// greeting is what POST /greetings accepts; the core refuses anything else with a 400 problem
// before the handler runs.
var greeting = armature.Schema{
	"type": "object", "required": []string{"name"}, "additionalProperties": false,
	"properties": armature.Schema{
		"name":  armature.Schema{"type": "string", "minLength": 1},
		"times": armature.Schema{"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
	},
}

// greeted is what POST /greetings answers; the core checks the handler's answer against it.
var greeted = armature.Schema{
	"type": "object", "required": []string{"text"},
	"properties": armature.Schema{"text": armature.Schema{"type": "string"}},
}

// helloApp is the service, not listening: the test runs it through armaturetest.
func helloApp() (*armature.App, error) {
	app, err := armature.New(armature.Options{}) // embedded defaults, ARMATURE_* overrides
	if err != nil {
		return nil, err
	}
	app.Handle("GET /hello/{name}", armature.Spec{}, func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, map[string]string{"hello": r.Param("name")}), nil
	})
	app.Handle("POST /greetings", armature.Spec{Body: greeting, Responses: map[int]armature.Schema{201: greeted}},
		func(_ context.Context, r *armature.Request) (*armature.Response, error) {
			var body struct {
				Name  string `json:"name"`
				Times int    `json:"times"`
			}
			if err := r.JSON(&body); err != nil {
				return nil, err
			}
			if body.Name == "nobody" {
				return nil, armature.Refuse(422, "nobody cannot be greeted")
			}
			if body.Times == 0 {
				body.Times = 1
			}
			text := strings.TrimSpace(strings.Repeat("Hello, "+body.Name+"! ", body.Times))
			return armature.JSON(201, map[string]string{"text": text}), nil
		})
	return app, nil
}

func main() {
	app, err := helloApp()
	if err != nil {
		log.Fatal(err)
	}
	// SIGTERM (or Ctrl-C): drain, then exit 0.
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
	}()
	addr := ":8080"
	if port := os.Getenv("PORT"); port != "" {
		addr = ":" + port
	}
	log.Printf("listening on %s", addr)
	if err := app.ListenAndServe(addr); !errors.Is(err, armature.ErrServerClosed) {
		log.Fatal(err)
	}
}
