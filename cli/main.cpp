#include "cli/app.h"

int main(int argc, char** argv) { return moeckpt::cli::run(argc, argv); }
