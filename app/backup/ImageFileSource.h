#pragma once
// ImageFileSource: a backup source that is an image file nothing else has open. Its point in
// time is simply the file as it is; a qcow2 image keeps this directory's checkpoint bitmaps as
// persistent bitmaps (so the VM that later runs it records what changes), a raw image has none
// and every point of it is full.
#include "app/backup/BackupSource.h"
#include "block/BlockDriver.h"

#include <memory>
#include <string>

namespace e2kvm::backup {

class ImageFileSource final : public BackupSource {
public:
    // `format`: "" to probe, "raw" or "qcow2".
    ImageFileSource(std::string path, std::string format);
    ~ImageFileSource() override;
    std::string describe() const override { return "image " + path_; }
    bool keepsCheckpoints() const override;
    std::unique_ptr<SourceView> open(const SourcePlan& plan, const NoteSink& note) override;
    std::string baseUsed() const override { return used_; }
    void finish(bool stored) override;

private:
    std::string path_;
    std::string format_;
    std::shared_ptr<block::BlockDriver> image_;
    SourcePlan plan_;
    std::string used_;
    bool addedNext_ = false;
};

} // namespace e2kvm::backup
