#!/usr/bin/env bash
# Refresh the vendored libraries from their published npm packages, unchanged, with their
# licences: ./eventflow/static/vendor/update.sh [uplot-version] [swagger-ui-dist-version]
# Needs npm (only to download the packages). Then run the browser tests and commit.
set -euo pipefail
cd "$(dirname "$0")"
uplot=${1:-1.6.32}
swagger=${2:-5.35.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$uplot" "swagger-ui-dist@$swagger" >/dev/null)
tar xzf "$work/uplot-$uplot.tgz" -C "$work" && mv "$work/package" "$work/uplot"
tar xzf "$work/swagger-ui-dist-$swagger.tgz" -C "$work" && mv "$work/package" "$work/swagger-ui"
cp "$work"/uplot/{LICENSE,dist/uPlot.esm.js,dist/uPlot.min.css} uplot/
cp "$work"/swagger-ui/{LICENSE,NOTICE,swagger-ui-bundle.js,swagger-ui-bundle.js.LICENSE.txt,swagger-ui.css} swagger-ui/
printf 'uplot %s\nswagger-ui-dist %s\n' "$uplot" "$swagger" > VERSIONS
echo "vendored uplot $uplot and swagger-ui-dist $swagger"
