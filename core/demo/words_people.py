"""Word lists of people for the demos: first names, surnames, titles, nationalities, languages."""
from __future__ import annotations

from core.demo.common import lines

# Common first names are fine as words; several double as place names on purpose.
FIRST_NAMES = tuple("""
James Mary John Anna Robert Linda Michael Sarah David Karen William Nancy Richard Lisa Thomas
Emma Daniel Laura Mark Julia Paul Helen Steven Rachel Andrew Claire Peter Grace Kevin Alice
Brian Ruth George Irene Edward Nora Frank Olga Henry Clara Oliver Hannah Samuel Leah Adam Vera
Lucas Mia Omar Amira Ahmed Fatima Yusuf Layla Kofi Ama Chidi Ngozi Tunde Zainab Ravi Priya
Arjun Divya Sanjay Meera Hiroshi Yuki Kenji Aiko Wei Mei Jun Lin Minho Jiwoo Tuan Linh Carlos
Lucia Mateo Sofia Diego Elena Pablo Ines Marco Giulia Luca Chiara Pierre Camille Louis Amelie
Hans Greta Felix Lena Jan Ewa Piotr Marta Lars Ingrid Sven Astrid Mikko Aino Sean Niamh Ivan
Tatiana Dmitri Katya Stefan Nadia Tomas Hana Florence Sydney Austin Georgia Victoria Jordan
Chelsea Madison Dallas Savannah Regina Adelaide Denver Carolina Lorraine Troy Chester Brooklyn
""".split())

# Surnames: generic and invented; some are also place names or ordinary English words.
SURNAMES = lines("""
Smith
Baker
Hill
Rose
Young
Price
Walker
Hughes
Fletcher
Barnes
Carter
Hale
Marsh
Bishop
Ward
Fox
Grant
Moss
Lincoln
Preston
Denver
Houston
Chester
Kent
Warwick
Kingston
Sheffield
Wellington
Durham
Ashdown
Quenby
Thorne
Merrick
Holloway
Pemberton
Ravensworth
Blakemore
Calloway
Dunmore
Everley
Fairbrother
Gladwell
Harcourt
Ingleby
Jessop
Kettering
Lockridge
Mallory
Netherton
Oakes
Pendry
Quill
Radley
Stroud
Tindall
Upton
Vance
Winslow
Yardley
Zeller
Brandt
Keller
Vogel
Hartmann
Richter
Lindqvist
Berglund
Nyberg
Halvorsen
Solberg
Virtanen
Korhonen
Kowalski
Nowak
Wozniak
Horvath
Novak
Dvorak
Popescu
Ionescu
Petrov
Volkov
Sokolova
Morozov
Fernandez
Navarro
Delgado
Herrera
Castillo
Romero
Ortega
Moreno
Ferreira
Almeida
Carvalho
Rossi
Bianchi
Ricci
Marino
Conti
Moretti
Dubois
Lefevre
Moreau
Girard
Bonnet
Mercier
Okafor
Adeyemi
Mensah
Owusu
Kamau
Otieno
Mwangi
Haddad
Nasser
Khalil
Aziz
Farouk
Demir
Yilmaz
Kaya
Sharma
Iyer
Reddy
Kapoor
Menon
Nair
Tanaka
Nakamura
Watanabe
Kobayashi
Fujita
Chen
Zhao
Liu
Huang
Park
Choi
Kang
Nguyen
Tran
Pham
Santos
Reyes
Cruz
Molina
O'Brien
O'Neill
McAllister
McKenna
Doyle
Byrne
Gallagher
Brennan
Sullivan
Morgan
Rhys
Price-Evans
Lloyd
Harrington
Whitlock
Sterling
Ashworth
Beckford
Cartwright
Drummond
Elsworth
Farleigh
Greaves
Hollingsworth
Jarrow
Kimble
Langford
Mortimer
Northcott
Orwell
Pickering
Rowntree
Stanhope
Tremaine
Underwood
Vickers
Westgate
Wexley
Yates
Ambrose
Brightman
Coldwell
Devereux
Eastwood
Finchley
Goodhew
Hawksworth
van der Holt
van Rijswick
de la Cruz
de Souza
Al Rashid
""")

NATIONALITIES = tuple("""
French German Spanish Italian Brazilian Japanese Chinese Indian Kenyan Nigerian Egyptian
Turkish Greek Polish Swedish Norwegian Irish Scottish Dutch Mexican Canadian Australian
Korean Vietnamese Argentine American British Portuguese Chilean Ghanaian
""".split())

LANGUAGES = tuple("English Mandarin Swahili Arabic Hindi Welsh Basque Esperanto Tagalog".split())

TITLES = tuple("Mr. Ms. Dr. President Minister Senator Judge Professor coach".split())
