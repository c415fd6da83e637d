#pragma once
// ImageJobs: the image operations the images panel runs as jobs (create, convert, check and
// repair) and the grow-only resize, written against the block layer; each reports progress to
// a JobProgress and throws with the real message on failure.
#include "block/ImageCheck.h"
#include "block/ImageOpen.h"

#include <QString>

#include <cstdint>
#include <string>

namespace e2kvm::block {
class BlockDriver;
}

namespace e2kvm::ui {

class JobProgress;

struct CreateImageRequest {
    std::string file;
    std::string format = "qcow2"; // "qcow2" or "raw"
    uint64_t size = 0;            // 0 with a backing file: the backing file's size
    uint32_t clusterSize = 65536; // qcow2
    std::string backingFile;      // qcow2, optional
};

// Creates the image (refuses to overwrite an existing file). Returns a summary line.
QString createImageJob(const CreateImageRequest& request, JobProgress& progress);

// Grows `image` to newSize. Throws std::runtime_error when newSize is not larger than the
// current size or the VM is running (with the reason).
void growImage(block::BlockDriver& image, uint64_t newSize, bool vmRunning);

struct ConvertRequest {
    std::string target;
    std::string format = "qcow2"; // of the target
    uint32_t clusterSize = 65536; // qcow2 target
};

// Copies everything `source` reads (through its backing chain) into a new image; zero chunks
// are skipped. On failure or cancel the partial target is deleted. `source` must stay open.
QString convertImageJob(block::BlockDriver& source, const ConvertRequest& request,
                        JobProgress& progress);

// Checks (and with repair != None repairs) the image file; the summary names what was found.
// forceShare checks an image that is open for writing (here or in another process) as
// qemu-img check -U does, instead of being refused by its image locks.
QString checkImageJob(const std::string& file, const std::string& format, block::RepairMode repair,
                      bool forceShare, JobProgress& progress);
// The summary line of a check result.
QString checkSummary(const block::CheckResult& result, block::RepairMode repair);

} // namespace e2kvm::ui
