#pragma once
// BackupsPanel: the Backups tab: restore points of the selected VM's disks (app/backup), one
// backup directory per disk below the folder kept in the VM's definition. "Back up now" takes a
// full point the first time and incremental points after, while the VM runs (a point in time of
// its disk, the guest keeps writing) or when it is stopped; Verify checks every point; Restore
// writes a point to a new image, to a new VM of the library, or back onto the disk of the
// stopped VM. Each operation runs on a worker thread with a progress bar and Cancel; its
// result, its notes and its errors are shown in the tab and logged.
#include "ui/panels/RestorePointTableModel.h"

#include <QPointer>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace e2kvm::ui {

struct AppContext;
struct VmDefinition;
class JobProgress;
class JobRunner;
class VmLibrary;

class BackupsPanel : public QWidget {
    Q_OBJECT
public:
    // `library` outlives the panel; `dataDir` is where the suggested backup folder and the
    // disks of restored VMs go.
    BackupsPanel(AppContext& context, VmLibrary& library, QString dataDir,
                 QWidget* parent = nullptr);
    ~BackupsPanel() override;

    QString vmName() const { return vm_; }
    int diskIndex() const;
    void setDiskIndex(int disk);
    // The folder of the VM's backups: the definition's, else <data dir>/backups/<vm name>.
    QString backupRoot() const;
    QString suggestedRoot() const;
    // The backup directory of one disk: <root>/disk<N> (a backup directory holds one disk).
    QString diskBackupDir(int disk) const;
    // Keeps `dir` (empty: the suggestion) and the number of points to keep (0: all) in the
    // VM's definition. False (and the reason shown) if the library refused it.
    bool setBackupRoot(const QString& dir);
    bool setKeep(int points);
    // Whether new points are stored zstd-compressed (kept in the VM's definition).
    bool setCompression(bool on);

    // The operations. Each starts a job and returns it, or returns null after saying in the
    // tab why it cannot start. `point` empty: the selected point of the table, else the latest.
    JobProgress* backUpNow();
    JobProgress* verifyAll();
    JobProgress* restoreToImage(std::optional<uint64_t> point, const QString& path,
                                const QString& format);
    JobProgress* restoreAsNewVm(std::optional<uint64_t> point);
    // Replaces the disk of the stopped VM with the point; asks first unless `confirmed`.
    JobProgress* restoreOntoDisk(std::optional<uint64_t> point, bool confirmed = false);
    bool busy() const { return job_ != nullptr; }
    void cancel();

    // What the tab says about the last operation (result, notes, errors).
    QString messageText() const;
    const RestorePointTableModel& pointsModel() const { return model_; }
    // The point chosen in the table (the latest when nothing is selected), if any.
    std::optional<uint64_t> chosenPoint() const;
    void refreshPoints();

public slots:
    void setVm(const QString& name);
    void setImages(const QStringList& files);
    void setVmRunning(bool running);

signals:
    void operationFinished(bool ok, const QString& message);

private:
    // `cancel` is the library's flag: set by Cancel, or by the work when the job was asked to
    // stop (see progressOf).
    using Work = std::function<QString(JobProgress&, std::atomic<bool>& cancel)>;
    JobProgress* startJob(const QString& title, Work work,
                          std::function<void(bool ok, const QString& message)> done = {});
    const VmDefinition* definition() const;
    bool saveDefinition(const std::function<void(VmDefinition&)>& change);
    void showMessage(const QString& text, bool error);
    void addNote(const QString& text);
    // Says in the tab (and the log) why an operation does not start; returns null.
    JobProgress* refusal(const QString& title, const QString& why);
    void updateForm();
    void chooseFolder();
    void chooseImageAndRestore();
    // The point a restore uses: `point`, else the chosen one; null after saying why not.
    std::optional<uint64_t> pointFor(std::optional<uint64_t> point);

    AppContext& context_;
    VmLibrary& library_;
    QString dataDir_;
    QString vm_;
    bool vmRunning_ = false;
    RestorePointTableModel model_;
    QPointer<JobProgress> job_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    JobRunner* ownRunner_ = nullptr; // when the context has no runner
    QString message_;

    QComboBox* disks_;
    QLineEdit* folder_;
    QPushButton* choose_;
    QCheckBox* keepOn_;
    QCheckBox* compress_;
    QSpinBox* keep_;
    QPushButton* backUp_;
    QPushButton* verify_;
    QPushButton* restoreImage_;
    QPushButton* restoreVm_;
    QPushButton* restoreDisk_;
    QProgressBar* bar_;
    QLabel* status_;
    QPushButton* cancelButton_;
    QLabel* messageLabel_;
    QLabel* empty_;
    QTableView* table_;
};

} // namespace e2kvm::ui
