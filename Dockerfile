# syntax=docker/dockerfile:1
# mtk-lint in a minimal image: one static binary on an empty base, run as a non-root user.
#   docker build -t mtk-lint .                                  (builds from source)
#   docker run --rm -v "$PWD:/src" mtk-lint /src                (lints the current directory)
# The release workflow builds it from the released static binaries instead
# (--build-arg SOURCE=from-release, binaries in dist/linux-<arch>/mtk-lint), and the `shell`
# variant below.
ARG SOURCE=from-source

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /build
COPY . .
RUN cargo build --locked --profile dist && cp target/dist/mtk-lint /mtk-lint

FROM scratch AS from-source
COPY --from=build /mtk-lint /mtk-lint

FROM scratch AS from-release
ARG TARGETARCH
COPY dist/linux-${TARGETARCH}/mtk-lint /mtk-lint

FROM ${SOURCE} AS binary

# `--target shell`: the same binary on busybox, for CI systems whose jobs run a shell script
# in the image (GitLab CI's `script:`); published as the `X.Y.Z-shell` tag.
FROM busybox:1-musl AS shell
COPY --from=binary /mtk-lint /usr/local/bin/mtk-lint
USER 65532:65532
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/mtk-lint"]

# The default image: nothing but the binary.
FROM scratch
COPY --from=binary /mtk-lint /usr/local/bin/mtk-lint
# The nobody user of distroless images: the linter only reads the mounted tree.
USER 65532:65532
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/mtk-lint"]
