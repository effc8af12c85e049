# quicklook: every target installs what it is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all setup build demo test s3-start s3-stop clean

all: build

setup:
	@scripts/setup.sh curl

build: setup
	go build -o bin/job ./job
	go build -o bin/submit ./submit

## demo: sample collection -> thumbnails of every prefix, run here by the local executor
demo: build
	scripts/demo.sh

## test: every test, with real GDAL on real files and a real S3 server
test: setup
	scripts/test.sh

## s3-start / s3-stop: the local S3-compatible server (eval "$$(scripts/s3-server.sh env)")
s3-start: setup
	scripts/s3-server.sh start

s3-stop:
	scripts/s3-server.sh stop

clean:
	rm -rf bin demo
