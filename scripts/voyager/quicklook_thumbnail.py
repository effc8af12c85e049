"""Voyager pipeline step: point an index entry at its quicklook thumbnail.

Voyager calls run(entry) with the path of a JSON entry file; the step writes
the entry, with its thumbnail URL set, as JSON to stdout. The naming rule
lives in one place, the job binary, so this step only calls `job url --json`.

Configure with environment variables (the job's own):
  QUICKLOOK_URL_BASE   required: where thumbnails are served (the stack's UrlBase)
  QUICKLOOK_JOB_BIN    the job binary (default: job on PATH)
  QUICKLOOK_KEY_FIELD  source key field (default entry.fields.fs_key)
  QUICKLOOK_URL_FIELD  URL field to set (default entry.fields.image_url)
  QUICKLOOK_CHECK      none, manifest or head: only point at thumbnails that exist
  QUICKLOOK_DEST       the thumbnail store, for QUICKLOOK_CHECK
  QUICKLOOK_PROFILES   the profiles file the jobs rendered with (path, s3:// or JSON)
  QUICKLOOK_URL_OUTPUT which of its outputs the entry points at, by name
"""
import os
import subprocess
import sys


def run(entry):
    """Set the thumbnail URL of the entry file at path `entry`; print it."""
    job = os.environ.get("QUICKLOOK_JOB_BIN", "job")
    done = subprocess.run([job, "url", "--json", entry], capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise RuntimeError("job url failed with exit code %d for %s" % (done.returncode, entry))
    sys.stdout.write(done.stdout)


if __name__ == "__main__":
    run(sys.argv[1])
