#pragma once
// NewVmWizard: creates a VM in three pages: name, memory and display size; disks (new qcow2 or
// raw images of a chosen size, a copy of the demo disk, or existing images, also dropped onto
// the page); boot program (the demo guest by default). Finishing creates the new disk files and
// the definition file in the library. New qcow2 disks (and copies of the demo disk) get a
// recording bitmap, kTrackingBitmapName, so that changes are tracked from the start.
#include <QSize>
#include <QString>
#include <QWizard>

#include <cstdint>

class QComboBox;
class QLineEdit;
class QSpinBox;
class QTableWidget;
class QLabel;

namespace e2kvm::ui {

class VmLibrary;

// The persistent bitmap the wizard gives the qcow2 disks it creates.
inline constexpr const char* kTrackingBitmapName = "e2kvm-tracking";

// One disk as the wizard plans it.
struct PlannedDisk {
    enum Kind { NewImage, DemoCopy, Existing } kind = NewImage;
    QString file;
    QString format = QStringLiteral("qcow2");
    uint64_t sizeBytes = 0; // NewImage
    bool readOnly = false;
};

class NewVmWizard : public QWizard {
    Q_OBJECT
public:
    // New disks are created in `dataDir`; `demoDisk` (may be empty) offers "copy of the demo disk".
    NewVmWizard(VmLibrary& library, QString dataDir, QString demoDisk, QWidget* parent = nullptr);

    // Programmatic access (tests and drag and drop use the same paths as the buttons).
    void setVmName(const QString& name);
    void setMemoryMiB(int mib);
    void setDisplaySize(QSize size);
    void clearDisks();
    void addNewDisk(const QString& format, uint64_t sizeBytes);
    void addDemoDiskCopy();
    void addExistingDisk(const QString& file, bool readOnly = false);
    void setBootProgram(int kind, const QString& path); // BootKind as int
    QList<PlannedDisk> plannedDisks() const { return disks_; }

    // After accept(): the name of the VM created.
    QString createdName() const { return created_; }
    // The last error (empty if the VM was created).
    QString lastError() const { return error_; }

    void accept() override;

private:
    friend class DisksPage;
    void refreshDiskTable();
    QString diskFileFor(int index, const QString& format) const;

    VmLibrary& library_;
    QString dataDir_;
    QString demoDisk_;
    QList<PlannedDisk> disks_;
    QString created_;
    QString error_;

    QLineEdit* name_ = nullptr;
    QSpinBox* memory_ = nullptr;
    QSpinBox* width_ = nullptr;
    QSpinBox* height_ = nullptr;
    QTableWidget* diskTable_ = nullptr;
    QComboBox* boot_ = nullptr;
    QLineEdit* bootPath_ = nullptr;
    QLabel* nameHint_ = nullptr;
};

} // namespace e2kvm::ui
