package desk

import (
	"fmt"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn/coordcard"
)

// agentCodeText is the agent's sign-in SMS in the page's language (one SMS long).
func agentCodeText(lang, code string, minutes int) string {
	switch lang {
	case "eu":
		return fmt.Sprintf("Atea RA: sarbide kodea %s (%d min). Ez partekatu.", code, minutes)
	case "en":
		return fmt.Sprintf("Atea RA: sign-in code %s (%d min). Do not share it.", code, minutes)
	default:
		return fmt.Sprintf("Atea RA: código de acceso %s (%d min). No lo comparta.", code, minutes)
	}
}

// tempText is the citizen's temporary-password SMS in the page's language.
func tempText(lang, pw string, minutes int) string {
	switch lang {
	case "eu":
		return fmt.Sprintf("Atea B@kQ: aldi baterako pasahitza %s (%d min). Ez partekatu.", pw, minutes)
	case "en":
		return fmt.Sprintf("Atea B@kQ: temporary password %s (%d min). Do not share it.", pw, minutes)
	default:
		return fmt.Sprintf("Atea B@kQ: contraseña temporal %s (%d min). No la comparta.", pw, minutes)
	}
}

// mailSubject is the subject of the card-and-link e-mail, in Spanish and Basque (the desk
// does not know which language the citizen reads; both official languages go).
const mailSubject = "Atea B@kQ: su tarjeta de coordenadas / zure koordenatu txartela"

// mailBody is the card-and-link e-mail, in Spanish then Basque, with the card once (monospace
// text: it prints as a grid) and the link.
func mailBody(given string, card coordcard.Card, link string, expires time.Time) string {
	until := expires.Format("02/01/2006")
	var b strings.Builder
	fmt.Fprintf(&b, "Hola, %s:\n\n", given)
	b.WriteString("Se ha registrado su credencial B@kQ en una oficina de registro de Atea. Debajo tiene su tarjeta de coordenadas: imprímala o cópiela y guárdela en lugar seguro. Nadie de Atea le pedirá nunca la tarjeta entera.\n\n")
	fmt.Fprintf(&b, "Para activar B@kQ, abra el enlace de abajo antes del %s y siga los pasos: necesitará su móvil y esta tarjeta.\n\n", until)
	fmt.Fprintf(&b, "Kaixo, %s:\n\n", given)
	b.WriteString("Zure B@kQ kredentziala Atearen erregistro bulego batean erregistratu da. Behean duzu zure koordenatu txartela: inprimatu edo kopiatu, eta gorde leku seguruan. Atean inork ez dizu inoiz txartel osoa eskatuko.\n\n")
	fmt.Fprintf(&b, "B@kQ aktibatzeko, ireki beheko esteka %s baino lehen eta jarraitu urratsei: zure mugikorra eta txartel hau beharko dituzu.\n\n", until)
	b.WriteString("Tarjeta de coordenadas / Koordenatu txartela:\n\n")
	b.WriteString(card.String())
	b.WriteString("\nEnlace de activación / Aktibazio esteka:\n")
	b.WriteString(link + "\n\n")
	b.WriteString("Si usted no ha estado en una oficina de registro, no abra el enlace y avísenos en una oficina.\n")
	b.WriteString("Erregistro bulego batean izan ez bazara, ez ireki esteka eta jakinarazi bulego batean.\n")
	return b.String()
}
