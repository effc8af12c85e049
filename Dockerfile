# quicklook job image: bin/job built with cgo against Debian's GDAL, run on
# slim Debian with only the runtime libraries it links.

FROM golang:1.25-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgdal-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/job ./job

FROM debian:bookworm-slim
# runtime: libgdal32 (GDAL 3.6 and the codecs it links), CA certificates for HTTPS to S3
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgdal32 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin quicklook
COPY --from=build /out/job /usr/local/bin/job
USER 10001
ENV GDAL_CACHEMAX=64 GDAL_PAM_ENABLED=NO
ENTRYPOINT ["/usr/local/bin/job"]
