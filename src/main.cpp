// trainer's entry point: builds the command line and turns every Error into its exit code.
// Under mpirun it joins the MPI job first, and a failing rank ends the whole job.
#include <cstdio>

#include "cli/commands.hpp"
#include "trainer/distributed.hpp"
#include "trainer/trial.hpp"

int main(int argc, char** argv) {
  // Before any thread starts (MPI's included): stacks the size the trainer needs, which an
  // rlimit budget counts whole, instead of RLIMIT_STACK's (docs/memory.md, "Thread stacks").
  trainer::set_default_thread_stack(trainer::kThreadStackBytes);
  trainer::init_distributed(argc, argv);
  return trainer::finish_distributed(trainer::cli::run(argc, argv));
}
