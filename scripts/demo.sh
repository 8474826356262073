#!/usr/bin/env bash
# Set everything up and animate the built-in astronaut portrait: writes reenactor_demo.mp4.
. "$(dirname "$0")/_env.sh"
reenactor demo --output "${1:-reenactor_demo.mp4}"
