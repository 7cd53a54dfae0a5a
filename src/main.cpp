// trainer's entry point: builds the command line and turns every Error into its exit code.
// Under mpirun it joins the MPI job first, and a failing rank ends the whole job.
#include <cstdio>

#include "cli/commands.hpp"
#include "trainer/distributed.hpp"

int main(int argc, char** argv) {
  trainer::init_distributed(argc, argv);
  return trainer::finish_distributed(trainer::cli::run(argc, argv));
}
