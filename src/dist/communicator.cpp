// The job's communicator over Open MPI, or a single rank when MPI is absent or not launched.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "trainer/distributed.hpp"

#ifdef TRAINER_HAVE_MPI
#include <mpi.h>
#endif

namespace trainer {
namespace {

bool launched_by_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr; }

}  // namespace

Communicator& Communicator::world() {
  static Communicator comm;
  return comm;
}

std::string Communicator::host() const {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

void init_distributed(int& argc, char**& argv) {
#ifdef TRAINER_HAVE_MPI
  if (!launched_by_mpirun()) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  // An error in a collective must end the job, not come back as a code nobody checks.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  Communicator& c = Communicator::world();
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  c.mpi_ = true;
#else
  (void)argc;
  (void)argv;
  if (launched_by_mpirun()) {
    std::fprintf(stderr, "trainer: warning: launched by mpirun, but built without MPI (TRAINER_MPI off or MPI not "
                         "found): every process trains alone\n");
  }
#endif
}

int finish_distributed(int code) {
#ifdef TRAINER_HAVE_MPI
  Communicator& c = Communicator::world();
  if (c.mpi_) {
    if (code != 0 && c.size() > 1) {
      std::cerr.flush();
      std::fflush(nullptr);
      MPI_Abort(MPI_COMM_WORLD, code);
    }
    MPI_Finalize();
  }
#endif
  return code;
}

void Communicator::abort_all(int code, const std::string& message) {
  if (!message.empty()) std::cerr << "trainer: " << (size_ > 1 ? "rank " + std::to_string(rank_) + ": " : "") << message << "\n";
  std::cerr.flush();
  std::fflush(nullptr);
#ifdef TRAINER_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

#ifdef TRAINER_HAVE_MPI

void Communicator::allreduce_sum(std::span<float> values) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
void Communicator::allreduce_sum(std::span<double> values) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
double Communicator::allreduce_sum(double value) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return value;
}
std::int64_t Communicator::allreduce_sum(std::int64_t value) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  return value;
}
std::int64_t Communicator::allreduce_min(std::int64_t value) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
  return value;
}
void Communicator::allreduce_min(std::span<double> values) {
  if (size_ > 1) MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
}
void Communicator::barrier() {
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
}

std::vector<std::string> Communicator::gather(const std::string& text) {
  if (size_ == 1) return {text};
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<int> offsets(lengths.size());
  int total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lengths.size(); ++r)
    out.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
  return out;
}

#else  // one rank: every collective is the identity

void Communicator::allreduce_sum(std::span<float>) {}
void Communicator::allreduce_sum(std::span<double>) {}
double Communicator::allreduce_sum(double value) { return value; }
std::int64_t Communicator::allreduce_sum(std::int64_t value) { return value; }
std::int64_t Communicator::allreduce_min(std::int64_t value) { return value; }
void Communicator::allreduce_min(std::span<double>) {}
void Communicator::barrier() {}
std::vector<std::string> Communicator::gather(const std::string& text) { return {text}; }

#endif

}  // namespace trainer
