#pragma once
// CreateImageDialog: asks for what a new disk image needs: file, format (qcow2/raw), virtual
// size, cluster size and an optional backing file; validates before accepting. A relative file
// name is in the dialog's folder (the selected VM's), never the process's working directory.
#include "ui/panels/ImageJobs.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;

namespace e2kvm::ui {

class CreateImageDialog : public QDialog {
    Q_OBJECT
public:
    explicit CreateImageDialog(QWidget* parent = nullptr);

    // The request as entered; throws std::runtime_error with the reason if it is not valid.
    CreateImageRequest request() const;
    // Where a relative file name goes (and where Browse… starts).
    void setFolder(const QString& folder);

    QLineEdit* fileEdit() const { return file_; }
    QLineEdit* sizeEdit() const { return size_; }
    QComboBox* formatBox() const { return format_; }
    QComboBox* clusterBox() const { return cluster_; }
    QLineEdit* backingEdit() const { return backing_; }

    void accept() override;

private:
    void formatChanged();

    QLineEdit* file_;
    QComboBox* format_;
    QLineEdit* size_;
    QComboBox* cluster_;
    QLineEdit* backing_;
    QLabel* error_;
    QString folder_;
};

} // namespace e2kvm::ui
