# .ci/run step 'image': the FROM scratch image for linux/amd64 and linux/arm64,
# one multi-arch manifest list built with buildah into an OCI archive: each
# platform's image is its binary alone (SHA-256); the amd64 one runs with podman,
# as a stdio server and as `serve` (an HTTP endpoint, its health check run in
# the container with podman exec, stopped with SIGTERM).
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).
. .ci/packages.sh

step "container image (FROM scratch, linux/amd64 + linux/arm64): buildah manifest list, each platform's layer its binary"
need_debian buildah:buildah podman:podman runc:runc
record_binary_hashes
mkdir -p target/image
.packaging/build-image "target/image/mcp-sigv4-$version-oci.tar" >/dev/null || fail "build-image failed"
python3 - "target/image/mcp-sigv4-$version-oci.tar" "$ci/binaries.sha256" "$version" <<'EOF' || fail "the image is not each platform's binary alone"
import hashlib, io, json, sys, tarfile
path, sums, version = sys.argv[1:]
hashes = {t: h for h, t in (line.split() for line in open(sums))}
oci = tarfile.open(path)
blob = lambda d: oci.extractfile("blobs/" + d.replace(":", "/")).read()
index = json.loads(oci.extractfile("index.json").read())
assert len(index["manifests"]) == 1, index
top = index["manifests"][0]
assert top["annotations"]["org.opencontainers.image.ref.name"] == f"mcp-sigv4:{version}", top
assert top["mediaType"] == "application/vnd.oci.image.index.v1+json", top["mediaType"]
images = json.loads(blob(top["digest"]))["manifests"]
platforms = sorted((m["platform"]["os"], m["platform"]["architecture"]) for m in images)
assert platforms == [("linux", "amd64"), ("linux", "arm64")], platforms
for m in images:
    arch = m["platform"]["architecture"]
    triple = {"amd64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}[arch]
    manifest = json.loads(blob(m["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    assert (config["os"], config["architecture"]) == ("linux", arch), (config["os"], config["architecture"])
    assert config["config"]["Entrypoint"] == ["/mcp-sigv4"], config["config"]
    assert config["config"].get("User") == "65532:65532", config["config"]
    assert len(manifest["layers"]) == 1, manifest["layers"]
    layer = tarfile.open(fileobj=io.BytesIO(blob(manifest["layers"][0]["digest"])))
    files = [f for f in layer.getmembers() if f.isfile()]
    assert [f.name.lstrip("./") for f in files] == ["mcp-sigv4"], [f.name for f in layer.getmembers()]
    got = hashlib.sha256(layer.extractfile(files[0]).read()).hexdigest()
    assert got == hashes[triple], f"linux/{arch}: /mcp-sigv4 is {got}, the {triple} binary is {hashes[triple]}"
    assert files[0].mode & 0o777 == 0o755, oct(files[0].mode)
    print(f"linux/{arch} ({m['digest'][:19]}…): one layer, one file, /mcp-sigv4 the {triple} binary (sha256 {got[:16]}…), "
          f"entrypoint {config['config']['Entrypoint']}, user {config['config']['User']}")
print(f"index {top['digest']} (mcp-sigv4:{version})")
EOF

step "container image: podman runs the linux/amd64 image from the archive (no daemon), relay smoke, serve smoke"
store=(--root "$ci/containers/storage" --runroot "$ci/containers/run" --storage-driver vfs)
# This machine allows no rlimit raise and has hybrid cgroups: runc with the
# cgroupfs manager and the host's limits work; an engine-less run that fails
# before our binary starts is reported, not hidden.
printf '[containers]\ndefault_ulimits = []\n' >"$ci/containers.conf"
export CONTAINERS_CONF="$ci/containers.conf"
podman "${store[@]}" pull --quiet --arch amd64 "oci-archive:$root/target/image/mcp-sigv4-$version-oci.tar:mcp-sigv4:$version" >/dev/null ||
  fail "podman cannot load the image from the archive"
run=(podman "${store[@]}" --runtime runc --cgroup-manager cgroupfs run -i --rm --network host --ulimit host)
expected_version=$(version_line x86_64-unknown-linux-musl)
if out=$("${run[@]}" "localhost/mcp-sigv4:$version" --version 2>&1); then
  echo "podman run: $out"
  smoke "${run[@]}" -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED -e HOME "localhost/mcp-sigv4:$version"
  # The same image as a sidecar: `IMAGE serve URL --listen …` (the entrypoint
  # is the binary, so `serve` is its first argument), driven over HTTP, its
  # health check run inside the running container as ECS and Kubernetes run
  # it (`podman exec NAME /mcp-sigv4 healthcheck URL`), then stopped with
  # SIGTERM as an orchestrator stops it.
  name="mcp-sigv4-serve-smoke-$$"
  probe=()
  for word in podman "${store[@]}" exec "$name" /mcp-sigv4; do probe+=(--probe "$word"); done
  python3 .packaging/smoke/serve_smoke.py "${probe[@]}" -- "${run[@]}" --name "$name" -e AWS_ACCESS_KEY_ID \
    -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED -e HOME "localhost/mcp-sigv4:$version" ||
    fail "serve smoke failed in the container"
else
  skip_loudly "podman cannot start containers on this machine: $out (the image was built and its contents checked above)"
fi
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  podman "${store[@]}" pull --quiet --arch arm64 "oci-archive:$root/target/image/mcp-sigv4-$version-oci.tar:mcp-sigv4:$version" >/dev/null ||
    fail "podman cannot load the linux/arm64 image from the archive"
  expected_version=$(version_line aarch64-unknown-linux-musl)
  smoke "${run[@]}" --arch arm64 -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED -e HOME "localhost/mcp-sigv4:$version"
else
  skip_loudly "the linux/arm64 image is checked by its layer's SHA-256 (the aarch64 binary the 'linux' step smoke-tested under qemu), not run as a container: that needs qemu-aarch64 registered in the kernel's binfmt_misc, which this machine does not have (/proc/sys/fs/binfmt_misc/qemu-aarch64)"
fi
unset CONTAINERS_CONF

add_to_dist "target/image/mcp-sigv4-$version-oci.tar"
