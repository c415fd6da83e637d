#pragma once
// BitmapNameDialog: one form for a new dirty bitmap (Add… and New checkpoint… in the Bitmaps
// tab): its name and granularity. The Create button is enabled only for a name that is not empty
// and not taken yet, and the form says why otherwise.
#include <QDialog>
#include <QStringList>

#include <cstdint>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace e2kvm::ui {

class BitmapNameDialog : public QDialog {
    Q_OBJECT
public:
    // `existing`: the image's bitmap names; `defaultGranularity`: the image's default (0: not
    // known), shown on the first choice.
    BitmapNameDialog(const QString& title, const QString& prompt, const QString& name,
                     const QStringList& existing, uint64_t defaultGranularity,
                     QWidget* parent = nullptr);

    QString name() const;
    uint64_t granularity() const; // 0: the image's default
    QLineEdit* nameEdit() const { return name_; }
    QComboBox* granularityBox() const { return granularity_; }
    QPushButton* createButton() const { return create_; }
    // Why the name cannot be used, or empty.
    QString problem() const;

private:
    void validate();

    QStringList existing_;
    QLineEdit* name_;
    QComboBox* granularity_;
    QLabel* problem_;
    QPushButton* create_;
};

} // namespace e2kvm::ui
