#!/usr/bin/env bash
# Vendors the browser player library into this folder, reproducibly: the
# pinned version is fetched from the npm registry with `npm pack`, its sha512
# is checked against the pinned integrity, and only the built file and its
# licences are copied. Run through `make web`; commit the result, so that
# building fstream never needs npm.
set -euo pipefail

version=1.8.2
integrity=sha512-cZYMa5muASH55wrS6JK5IGkUqnCA96c0f+WdnW91jIK9s/N6NzjmTQDJNYg9A5u/G2Q5nj2b3w1Zwzze/9guxA==

dest=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

npm pack --silent "mpegts.js@${version}" >/dev/null
tarball="mpegts.js-${version}.tgz"
# Hash it ourselves rather than trust npm's report of what it fetched.
got=$(node -e 'const c = require("crypto"), f = require("fs");
process.stdout.write("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"));' "$tarball")
if [ "$got" != "$integrity" ]; then
	echo "mpegts.js@${version}: integrity mismatch" >&2
	echo "  want ${integrity}" >&2
	echo "  got  ${got}" >&2
	exit 1
fi

tar -xzf "$tarball"
install -m 0644 package/dist/mpegts.js "$dest/mpegts.js"
install -m 0644 package/dist/mpegts.js.LICENSE.txt "$dest/mpegts.js.LICENSE.txt"
install -m 0644 package/LICENSE "$dest/LICENSE"
echo "vendored mpegts.js ${version} (${integrity}) into ${dest}"
