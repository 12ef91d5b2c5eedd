// How a backend hands a model to the worker: a DSM segment holding this
// header, then `nclasses` doubles (the label value of each class), then the
// model's UBJSON bytes. The backend creates it, queues a LOAD request naming
// it, and keeps it attached until the worker answers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgml::shm {

struct Handoff {
    uint32_t classification;  // 0: regression
    uint32_t nclasses;
    uint64_t nbytes;
    // double classes[nclasses]; uint8_t bytes[nbytes];
};

inline size_t handoff_size(uint32_t nclasses, uint64_t nbytes) {
    return sizeof(Handoff) + sizeof(double) * nclasses + nbytes;
}
inline double* handoff_classes(Handoff* h) { return reinterpret_cast<double*>(h + 1); }
inline uint8_t* handoff_bytes(Handoff* h) {
    return reinterpret_cast<uint8_t*>(handoff_classes(h) + h->nclasses);
}

}  // namespace pgml::shm
