# pulldoctor agent image: a static binary (musl) on an empty base, run as a non-root user.
#   docker build -t pulldoctor:0.1.0 .
FROM rust:1-alpine AS build
# aws-lc-rs (TLS for the Kubernetes and AWS clients) builds its C part with these.
RUN apk add --no-cache build-base cmake perl clang ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --bin pulldoctor \
 && cp target/dist/pulldoctor /pulldoctor

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /pulldoctor /pulldoctor
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/pulldoctor"]
CMD ["agent"]
