// QMP blockdev-create: an image created by a job of type "create" (QEMU's life cycle: created,
// running, waiting, pending, concluded; dismissed by the client), for the drivers e2kvm
// creates: "file" (a file of `size` bytes) and "qcow2" on a file node or an inline file
// reference.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "block/ImageOpen.h"
#include "block/job/Job.h"

namespace e2kvm::qmp {

namespace {

class CreateJob : public block::Job {
public:
    // `failure`: set when the options name no file to create in (the job fails with it, as
    // QEMU's does).
    CreateJob(std::string id, std::string filename, block::CreateOptions options,
              std::string failure)
        : Job(std::move(id), "create", true, false), filename_(std::move(filename)),
          options_(std::move(options)), failure_(std::move(failure)) {}
    ~CreateJob() override { joinThread(); }

protected:
    bool drainsAtStart() const override { return false; }
    void run() override {
        setTotal(1);
        if (!checkpoint())
            return;
        // As QEMU's, the one unit of progress is done whether the creation worked or not.
        std::string error = failure_;
        if (error.empty()) {
            try {
                block::createImage(filename_, options_);
            } catch (const std::exception& e) {
                std::string m = e.what();
                if (m.rfind(filename_ + ": ", 0) == 0)
                    m.erase(0, filename_.size() + 2);
                error = "Could not create '" + filename_ + "': " + m;
            }
        }
        addProgress(1);
        if (!error.empty())
            throw std::runtime_error(error);
    }

private:
    std::string filename_;
    block::CreateOptions options_;
    std::string failure_;
};

// The file a qcow2 creation writes (`key` "file"), or its data file ("data-file"): a file
// node's name, or {driver: file, filename}. An unknown node name is the job's failure
// (`failure`), not the command's.
std::string fileOfRef(QmpContext& ctx, QmpArgs& o, std::string& failure,
                      const std::string& key = "file") {
    const Json& ref = o.require(key);
    if (ref.isString()) {
        auto it = ctx.fileNodes.find(ref.asString());
        if (it == ctx.fileNodes.end()) {
            failure = "Cannot find device='" + ref.asString() + "' nor node-name='" +
                      ref.asString() + "'";
            return {};
        }
        return it->second;
    }
    if (!ref.isObject())
        o.typeError(key, "object");
    QmpArgs f(&ref, o.path(key));
    std::string driver = f.str("driver");
    if (driver != "file")
        throw QmpError("Driver '" + driver + "' is not supported for '" + f.path("driver") +
                       "' (only 'file')");
    std::string filename = f.str("filename");
    f.optStr("node-name");
    f.finish();
    return filename;
}

Json blockdevCreate(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string jobId = a.str("job-id");
    QmpArgs o = a.object("options");
    a.finish();
    std::string driver = o.str("driver");
    block::CreateOptions co;
    std::string filename, failure;
    std::optional<uint64_t> size = o.optUInt("size");
    if (!size)
        o.require("size");
    co.size = *size;
    co.sizeGiven = true;
    if (driver == "file") {
        co.format = "raw";
        filename = o.str("filename");
        std::string prealloc =
            o.optEnum("preallocation", {"off", "falloc", "full"}).value_or("off");
        co.preallocation = prealloc == "full"     ? block::Preallocation::Full
                           : prealloc == "falloc" ? block::Preallocation::Falloc
                                                  : block::Preallocation::Off;
        o.optBool("nocow", false);
        o.optUInt("extent-size-hint");
    } else if (driver == "qcow2") {
        co.format = "qcow2";
        filename = fileOfRef(ctx, o, failure);
        std::string version = o.optEnum("version", {"v2", "v3"}).value_or("v3");
        co.compat = version == "v2" ? "0.10" : "1.1";
        if (auto b = o.optStr("backing-file"))
            co.backingFile = *b;
        if (auto f = o.optEnum("backing-fmt", {"qcow2", "raw"}))
            co.backingFormat = *f;
        if (auto c = o.optUInt("cluster-size"))
            co.clusterSize = uint32_t(*c);
        std::string prealloc =
            o.optEnum("preallocation", {"off", "metadata", "falloc", "full"}).value_or("off");
        co.preallocation = prealloc == "full"       ? block::Preallocation::Full
                           : prealloc == "falloc"   ? block::Preallocation::Falloc
                           : prealloc == "metadata" ? block::Preallocation::Metadata
                                                    : block::Preallocation::Off;
        co.lazyRefcounts = o.optBool("lazy-refcounts", false);
        if (auto r = o.optUInt("refcount-bits"))
            co.refcountBits = uint32_t(*r);
        co.extendedL2 = o.optBool("extended-l2", false);
        // data-file: an existing node, used as it is (only the qcow2 file is formatted).
        if (o.any("data-file")) {
            co.dataFile = fileOfRef(ctx, o, failure, "data-file");
            co.dataFileExists = true;
        }
        co.dataFileRaw = o.optBool("data-file-raw", false);
        if (auto c = o.optEnum("compression-type", {"zlib", "zstd"}))
            co.compressionType = *c;
    } else {
        throw QmpError("Driver '" + driver + "' does not support blockdev-create");
    }
    o.finish();
    try {
        ctx.jobs.checkIdFree(jobId);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    auto job = std::make_shared<CreateJob>(jobId, filename, co, failure);
    ctx.jobs.start(job, {});
    return Json::object();
}

} // namespace

void registerBlockdevCreate(QmpContext& ctx) {
    ctx.addCommand({"blockdev-create", blockdevCreate});
}

} // namespace e2kvm::qmp
