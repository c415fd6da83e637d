#pragma once
// ConvertImageDialog: one form for Convert…: the target format (qcow2/raw) and the target file,
// suggested next to the source as NAME-copy.FORMAT (following the format until the user edits
// the name); a relative name is in the source's folder. Refuses an empty name or an existing
// file before it closes, saying why under the form.
#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace e2kvm::ui {

class ConvertImageDialog : public QDialog {
    Q_OBJECT
public:
    ConvertImageDialog(const QString& sourceFile, QWidget* parent = nullptr);

    QString format() const;
    // The target file as an absolute path (empty if no name is entered).
    QString target() const;
    // Why the form cannot be accepted now (empty if it can).
    QString problem() const;

    QComboBox* formatBox() const { return format_; }
    QLineEdit* targetEdit() const { return target_; }
    QPushButton* convertButton() const { return convert_; }

    void accept() override;

private:
    QString suggestedTarget() const;
    void update();

    QString source_;
    QComboBox* format_;
    QLineEdit* target_;
    QLabel* problem_;
    QPushButton* convert_;
    QString suggested_; // the name last suggested
};

} // namespace e2kvm::ui
