# quicklook: every target installs what it is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all setup build demo test clean

all: build

setup:
	@scripts/setup.sh

build: setup
	go build -o bin/job ./job

## demo: sample collection -> thumbnails of one prefix (local folders)
demo: build
	scripts/demo.sh

## test: every test, with real GDAL on real files
test: setup
	scripts/test.sh

clean:
	rm -rf bin demo
