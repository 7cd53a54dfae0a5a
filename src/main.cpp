// trainer's entry point: builds the command line and turns every Error into its exit code.
#include <cstdio>

#include "cli/commands.hpp"

int main(int argc, char** argv) { return trainer::cli::run(argc, argv); }
