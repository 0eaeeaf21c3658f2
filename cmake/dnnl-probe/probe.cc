// Links one oneDNN call: proves the headers and the library of the found package work together.
#include <oneapi/dnnl/dnnl.hpp>

int main() { return dnnl::version()->major > 0 ? 0 : 1; }
