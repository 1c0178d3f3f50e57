package certreg

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"
)

// receipt is what the PDF receipt says.
type receipt struct {
	Lang         string // es, eu or en (anything else: es)
	At           time.Time
	GivenName    string
	FamilyName   string
	MaskedDNI    string
	Email        string
	MaskedPhone  string
	Credential   string // "B@k"
	TermsVersion string
	Fingerprint  string // first 16 hex digits
	Reference    string
}

// receiptText is the receipt's wording in one language. The PDF is not a page of the
// templates package (it has no HTML), so its few texts live here, beside the layout that
// uses them.
type receiptText struct {
	title, intro, at, name, dni, email, phone, credential, terms, fingerprint, reference, note, footer string
	dateLayout                                                                                         string
}

var receiptTexts = map[string]receiptText{
	"es": {
		title:       "Justificante de registro",
		intro:       "Atea certifica que la persona siguiente se ha registrado en línea con su certificado electrónico y que su credencial está activa.",
		at:          "Fecha y hora del registro",
		name:        "Nombre y apellidos",
		dni:         "DNI/NIE",
		email:       "Correo electrónico",
		phone:       "Teléfono móvil (comprobado por SMS)",
		credential:  "Credencial",
		terms:       "Versión de las condiciones aceptadas",
		fingerprint: "Huella del certificado (SHA-256)",
		reference:   "Referencia del registro",
		note:        "Conserve este justificante. Si tiene que consultar algo sobre su registro, indique la referencia. Atea nunca le pedirá su contraseña.",
		footer:      "Atea · Servicio de identificación electrónica",
		dateLayout:  "02/01/2006 15:04 (MST)",
	},
	"eu": {
		title:       "Erregistroaren egiaztagiria",
		intro:       "Ateak egiaztatzen du pertsona hau linean erregistratu dela bere ziurtagiri elektronikoarekin eta bere kredentziala aktibo dagoela.",
		at:          "Erregistroaren data eta ordua",
		name:        "Izen-abizenak",
		dni:         "NAN/AIZ",
		email:       "Helbide elektronikoa",
		phone:       "Telefono mugikorra (SMS bidez egiaztatua)",
		credential:  "Kredentziala",
		terms:       "Onartutako baldintzen bertsioa",
		fingerprint: "Ziurtagiriaren hatz-marka (SHA-256)",
		reference:   "Erregistroaren erreferentzia",
		note:        "Gorde egiaztagiri hau. Zure erregistroari buruz zerbait galdetu behar baduzu, adierazi erreferentzia. Ateak ez dizu inoiz pasahitza eskatuko.",
		footer:      "Atea · Identifikazio elektronikoko zerbitzua",
		dateLayout:  "2006/01/02 15:04 (MST)",
	},
	"en": {
		title:       "Registration receipt",
		intro:       "Atea certifies that the following person registered online with their electronic certificate and that their credential is active.",
		at:          "Date and time of registration",
		name:        "Name",
		dni:         "DNI/NIE",
		email:       "E-mail address",
		phone:       "Mobile phone (confirmed by SMS)",
		credential:  "Credential",
		terms:       "Version of the terms accepted",
		fingerprint: "Certificate fingerprint (SHA-256)",
		reference:   "Registration reference",
		note:        "Keep this receipt. If you need to ask about your registration, quote the reference. Atea will never ask you for your password.",
		footer:      "Atea · Electronic identification service",
		dateLayout:  "02/01/2006 15:04 (MST)",
	},
}

// buildReceipt renders r as a one-page A4 PDF.
//
// Compression is off: the receipt is a few kilobytes either way, and uncompressed content
// streams keep its text greppable, so tests (and an auditor with a text tool) can check what
// it says, and in particular that the whole DNI/NIE is not in it.
//
// The core Helvetica font has no Unicode; its Windows-1252 encoding covers every letter of
// Spanish, Basque and English (ñ, ü, á…). A name with a letter outside it prints with a
// replacement character: the receipt is a convenience, the directory keeps the real name.
func buildReceipt(r receipt) ([]byte, error) {
	tx, ok := receiptTexts[r.Lang]
	if !ok {
		tx = receiptTexts["es"]
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(false)
	// Fixed dates make the file a function of the registration, not of when it was fetched.
	pdf.SetCreationDate(r.At)
	pdf.SetModificationDate(r.At)
	pdf.SetTitle(tx.title+" "+r.Reference, true)
	pdf.SetCreator("Atea", true)
	pdf.SetProducer("Atea", true)
	pdf.SetLang(r.Lang)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	cp := pdf.UnicodeTranslatorFromDescriptor("") // cp1252
	pdf.SetFooterFunc(func() {
		pdf.SetY(-15)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, cp(tx.footer), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 18)
	pdf.SetTextColor(20, 60, 120)
	pdf.CellFormat(0, 10, cp("Atea"), "", 1, "L", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, cp(tx.title), "", 1, "L", false, 0, "")
	pdf.SetDrawColor(20, 60, 120)
	pdf.Line(20, pdf.GetY()+1, 190, pdf.GetY()+1)
	pdf.Ln(5)
	pdf.SetFont("Helvetica", "", 11)
	pdf.MultiCell(0, 6, cp(tx.intro), "", "L", false)
	pdf.Ln(4)

	rows := [][2]string{
		{tx.at, r.At.Format(tx.dateLayout)},
		{tx.name, r.GivenName + " " + r.FamilyName},
		{tx.dni, r.MaskedDNI},
		{tx.email, r.Email},
		{tx.phone, r.MaskedPhone},
		{tx.credential, r.Credential},
		{tx.terms, r.TermsVersion},
		{tx.fingerprint, r.Fingerprint},
		{tx.reference, r.Reference},
	}
	for _, row := range rows {
		pdf.SetFont("Helvetica", "", 9)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, cp(row[0]), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "B", 12)
		pdf.SetTextColor(0, 0, 0)
		pdf.MultiCell(0, 6, cp(row[1]), "", "L", false)
		pdf.Ln(2)
	}
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(0, 5, cp(tx.note), "", "L", false)
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("certreg: receipt: %w", err)
	}
	return buf.Bytes(), nil
}
