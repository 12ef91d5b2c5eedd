#include "backend/training.hpp"

#include <chrono>
#include <functional>

#include "pg/guard.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
}

namespace pgml::backend {

namespace {

using Clock = std::chrono::steady_clock;

// Progress of a long training run: a NOTICE at most every few seconds (so
// short runs stay quiet) and an interrupt check between units of work.
class Progress {
public:
    Result<void> operator()(Phase phase, size_t done, size_t total) {
        if (phase == Phase::searching) {
            // Each fit of a search then reports within "fit i of n".
            search_fit_ = done;
            search_fits_ = total;
        }
        auto now = Clock::now();
        // (searching 0 of 0 ends a search: quietly.)
        const int every = settings::train_progress_s;
        bool report = every > 0 && now - last_ >= std::chrono::seconds(every) && total > 0;
        if (report) last_ = now;
        const char* what = phase == Phase::preparing ? "building training matrix from"
                           : phase == Phase::searching ? "cross-validation fit"
                           : phase == Phase::boosting ? "boosting round"
                                                      : "scoring test row";
        return pg::call([&] {
            CHECK_FOR_INTERRUPTS();
            if (!report) return;
            if (search_fits_ && phase != Phase::searching)
                ereport(NOTICE, (errmsg("pgml.train: search fit %zu of %zu: %s %zu of %zu", search_fit_,
                                        search_fits_, what, done, total)));
            else
                ereport(NOTICE, (errmsg("pgml.train: %s %zu of %zu", what, done, total)));
        });
    }

private:
    Clock::time_point last_ = Clock::now();
    size_t search_fit_ = 0, search_fits_ = 0;
};

}  // namespace

Result<Trained> train_on_relation(const char* relation, const std::vector<std::string>& labels,
                                  const TrainSpec& spec) {
    auto shape = resolve_relation(relation, labels);
    if (!shape) return tl::unexpected(shape.error());
    if (auto ok = shape->plan.set_options(spec.preprocess, labels[0]); !ok) return tl::unexpected(ok.error());
    Dataset data(shape->plan.raw_width(), labels.size());
    if (auto r = read_relation(*shape, data); !r) return tl::unexpected(r.error());
    Progress progress;
    auto model = train(data, shape->plan, spec, std::ref(progress));
    if (!model) return tl::unexpected(model.error());
    return Trained{std::move(*shape), std::move(*model), data.rows()};
}

}  // namespace pgml::backend
