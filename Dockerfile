# syntax=docker/dockerfile:1
# Hallpass image: a static Go binary on debian:bookworm-slim, running as a non-root user.
# Used by docker-compose.yml; `docker build -t hallpass .` works on its own too.

# ---- build ----
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Dependencies first, so that source edits do not invalidate the module layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
# templ generate is a no-op when the generated *_templ.go files are already up to date.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go tool templ generate \
 && go build -trimpath -ldflags='-s -w' -o /out/hallpass ./cmd/hallpass

# ---- run ----
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin hallpass
COPY --from=build /out/hallpass /usr/local/bin/hallpass
USER hallpass:hallpass
ENV HALLPASS_LISTEN=0.0.0.0:8000
EXPOSE 8000
CMD ["hallpass", "serve"]
