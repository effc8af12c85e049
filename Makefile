# quicklook: every target installs what it is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all setup build demo test image-check bench soak scale fuzz s3-start s3-stop synth clean

all: build

setup:
	@scripts/setup.sh curl

build: setup
	go build -o bin/job ./job
	go build -o bin/submit ./submit

## demo: sample collection -> thumbnails of every prefix, run here by the local executor
demo: build
	scripts/demo.sh

## test: every test, with real GDAL on real files, a real S3 server and a real browser
test: setup
	@scripts/setup.sh curl chromium python3 python3-jsonschema mmdebstrap libvips-tools
	scripts/test.sh

## image-check: build the Dockerfile's runtime root filesystem from Debian's packages (no
## container engine needed) and run the job in it as the image would, from a folder and from S3
image-check: setup
	@scripts/setup.sh curl mmdebstrap
	scripts/s3-server.sh start
	eval "$$(scripts/s3-server.sh env)" && go test -count=1 -v -run '^TestImageRunsTheJob$$' ./scripts/imagecheck; status=$$?; scripts/s3-server.sh stop; exit $$status

## s3-start / s3-stop: the local S3-compatible server (eval "$$(scripts/s3-server.sh env)")
s3-start: setup
	scripts/s3-server.sh start

s3-stop:
	scripts/s3-server.sh stop

## bench: quicklook against the methods in use today, same files, one run -> BENCHMARKS.md
bench: build
	@scripts/setup.sh curl libvips-tools util-linux
	scripts/s3-server.sh start
	eval "$$(scripts/s3-server.sh env)" && go run ./scripts/bench; status=$$?; scripts/s3-server.sh stop; exit $$status

## soak: 2,000 objects, 20 prefixes, 5% injected transient faults, hostile files: nothing lost
soak: build
	scripts/s3-server.sh start
	eval "$$(scripts/s3-server.sh env)" && go run ./scripts/soak; status=$$?; scripts/s3-server.sh stop; exit $$status

## scale: a whole archive at NAIP's size: 1.3 M keys planned, packed, submitted to the Batch
## stand-in's simulation, watched and retried; 20,000 objects rendered, stopped and resumed
scale: build
	scripts/s3-server.sh start
	eval "$$(scripts/s3-server.sh env)" && QUICKLOOK_SCALE_KEYS=1300000 QUICKLOOK_RESUME_OBJECTS=20000 \
		go test -count=1 -v -timeout 60m -run '^(TestPlanCountsANAIPShapedArchive|TestSimulatedArchiveRun|TestArrayRunStoppedAndResumed)$$' ./submit; \
		status=$$?; scripts/s3-server.sh stop; exit $$status

## fuzz: longer fuzzing, the renderer (GDAL on mutated GeoTIFF/JPEG/PNG) included
FUZZTIME ?= 2m
fuzz: setup
	go test -run '^$$' -fuzz '^FuzzOutputKeyAndURL$$' -fuzztime $(FUZZTIME) ./internal/naming
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/manifest
	go test -run '^$$' -fuzz '^FuzzRenderIsolated$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./internal/renderproc
	go test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s -parallel 1 ./internal/renderproc

## synth: the CDK app (infra/, cdk.json) -> cdk.out; installs the CDK CLI if missing
CDK := .tools/cdk/node_modules/.bin/cdk
$(CDK):
	@command -v npm >/dev/null || scripts/setup.sh npm
	npm install --silent --no-audit --no-fund --prefix .tools/cdk aws-cdk@2

# jsii warns on every run when Node.js is older than it would like; synth works.
synth: setup $(CDK)
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(CDK) synth --quiet
	@echo "cdk.out written; deploy with: $(CDK) deploy (see README)"

clean:
	rm -rf bin demo cdk.out quicklook-logs
