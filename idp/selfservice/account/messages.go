package account

import (
	"fmt"

	"github.com/ateaidp/atea/idp/authn/smsotp"
)

// The texts of the messages the journey sends, in the page's language. They are not in the
// page catalogs: they leave Atea by SMS or e-mail, and an SMS must fit in one message even
// in UCS-2 (70 characters). The code comes first in every text that has one, before any
// other number (the validity), so nobody — and no test — mistakes another number for it.

// codeMessage is the message carrying a confirmation code to the new address or number.
func codeMessage(lang, field, to, code string, minutes int) smsotp.Message {
	if field == FieldPhone {
		var body string
		switch lang {
		case "eu":
			body = "Atea: mugikor berria berresteko kodea: " + code + ". Ez partekatu."
		case "en":
			body = "Atea: code to confirm your new mobile: " + code + ". Do not share it."
		default:
			body = "Atea: código para confirmar su nuevo móvil: " + code + ". No lo comparta."
		}
		return smsotp.Message{To: to, Body: body, Kind: smsotp.KindSMS}
	}
	var subject, body string
	switch lang {
	case "eu":
		subject = "Atea: berretsi zure helbide elektroniko berria"
		body = fmt.Sprintf("Zure berrespen-kodea: %s\n\n"+
			"Idatzi Atearen orrian, zure kontuko helbide elektronikoa aldatzeko. %d minutuz balio du.\n"+
			"Ez eman kode hau inori: Ateak ez dizu inoiz eskatuko telefonoz edo mezu bidez.\n\n"+
			"Zuk ez baduzu aldaketa hau eskatu, ez egin ezer: zure helbidea ez da aldatuko.\n", code, minutes)
	case "en":
		subject = "Atea: confirm your new e-mail address"
		body = fmt.Sprintf("Your confirmation code: %s\n\n"+
			"Type it on the Atea page to change the e-mail address of your account. It is valid for %d minutes.\n"+
			"Do not give this code to anyone: Atea will never ask you for it by phone or message.\n\n"+
			"If you did not ask for this change, do nothing: your address will not change.\n", code, minutes)
	default:
		subject = "Atea: confirme su nueva dirección de correo electrónico"
		body = fmt.Sprintf("Su código de confirmación: %s\n\n"+
			"Escríbalo en la página de Atea para cambiar la dirección de correo de su cuenta. Es válido durante %d minutos.\n"+
			"No dé este código a nadie: Atea nunca se lo pedirá por teléfono ni por mensaje.\n\n"+
			"Si no ha pedido este cambio, no haga nada: su dirección no cambiará.\n", code, minutes)
	}
	return smsotp.Message{To: to, Subject: subject, Body: body, Kind: smsotp.KindEmail}
}

// noticeMessage tells the OLD address or number that it was replaced, naming the new one
// masked (smsotp.MaskTo): enough for the citizen to recognise their own change, too little
// to hand the new address to whoever reads the old one.
func noticeMessage(lang, field, old, replacement string) smsotp.Message {
	masked := smsotp.MaskTo(replacement)
	if field == FieldPhone {
		var body string
		switch lang {
		case "eu":
			body = "Atea: zure kontuko mugikorra aldatu da (" + masked + "). Zuk egin ez baduzu, jo laguntzara."
		case "en":
			body = "Atea: your mobile was changed to " + masked + ". If not you, contact support."
		default:
			// "ó" makes it UCS-2: at most 70 characters (MaskTo of a number is always 6).
			body = "Atea: su móvil ha cambiado a " + masked + ". Si no fue usted, avise a soporte."
		}
		return smsotp.Message{To: old, Body: body, Kind: smsotp.KindSMS}
	}
	var subject, body string
	switch lang {
	case "eu":
		subject = "Atea: zure helbide elektronikoa aldatu da"
		body = "Zure Atea kontuko helbide elektronikoa aldatu da. Helbide berria: " + masked + ".\n" +
			"Aurrerantzean ez duzu mezurik jasoko helbide honetan.\n\n" +
			"Zuk ez baduzu aldaketa hau egin, jo laguntzara edo erregistro-bulego batera lehenbailehen.\n"
	case "en":
		subject = "Atea: your e-mail address was changed"
		body = "The e-mail address of your Atea account was changed. The new address is " + masked + ".\n" +
			"You will no longer receive messages at this address.\n\n" +
			"If you did not make this change, contact support or a registration desk at once.\n"
	default:
		subject = "Atea: se ha cambiado su dirección de correo electrónico"
		body = "Se ha cambiado la dirección de correo electrónico de su cuenta Atea. La nueva es " + masked + ".\n" +
			"A partir de ahora no recibirá mensajes en esta dirección.\n\n" +
			"Si no ha hecho usted este cambio, avise a soporte o acuda a una oficina de registro cuanto antes.\n"
	}
	return smsotp.Message{To: old, Subject: subject, Body: body, Kind: smsotp.KindEmail}
}
