#pragma once
// DetailsPage: the Details tab: a VM's memory, disks, boot program and display size, editable
// while the VM is stopped; "Apply" hands the edited definition back (Apply and Revert are enabled
// only when the form differs from the VM), and the outcome of the last Apply is shown under it.
// A greyed field says why in its tooltip, and a note over the form says it too.
#include "ui/library/VmDefinition.h"

#include <QWidget>

class QComboBox;
class QLabel;
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
    QString lockedText() const;                  // the note over a greyed form, as shown
    bool modified() const;                       // the form differs from the VM's definition
    // Shows the outcome of Apply under the form (an error in red).
    void showResult(const QString& text, bool error);
    QString resultText() const;

signals:
    void applyRequested(const e2kvm::ui::VmDefinition& def);

private:
    void addDiskRow(const VmDisk& disk);
    void updateBootPath();
    void updateButtons();
    QString notEditableText() const; // why the fields are greyed while the VM runs

    VmDefinition original_;
    VmDefinition shown_; // what the form showed after setDefinition
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
    QLabel* result_;
    QLabel* locked_;   // says why the form is greyed
    QString sizeHint_; // what the display size means (its fields' tooltip)
    bool editable_ = true;
};

} // namespace e2kvm::ui
