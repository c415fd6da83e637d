#pragma once
// DetailsPage: the Details tab: a VM's memory, disks, boot program and display size, editable
// while the VM is stopped; "Apply" hands the edited definition back.
#include "ui/library/VmDefinition.h"

#include <QWidget>

class QComboBox;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace e2kvm::ui {

class DetailsPage : public QWidget {
    Q_OBJECT
public:
    explicit DetailsPage(QWidget* parent = nullptr);

    void setDefinition(const VmDefinition& def); // also clears "modified"
    VmDefinition definition() const;             // what the form shows now
    void setEditable(bool editable);             // false while the VM runs

signals:
    void applyRequested(const e2kvm::ui::VmDefinition& def);

private:
    void addDiskRow(const VmDisk& disk);
    void updateBootPath();

    VmDefinition original_;
    QLineEdit* name_;
    QSpinBox* memory_;
    QTableWidget* disks_;
    QPushButton* addDisk_;
    QPushButton* removeDisk_;
    QComboBox* boot_;
    QLineEdit* bootPath_;
    QPushButton* browseBoot_;
    QSpinBox* width_;
    QSpinBox* height_;
    QPushButton* apply_;
    QPushButton* revert_;
    bool editable_ = true;
};

} // namespace e2kvm::ui
