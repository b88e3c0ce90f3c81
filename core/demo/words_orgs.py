"""Word lists of named things for the demos: companies, institutions, teams, events, products."""
from __future__ import annotations

from core.demo.common import lines

# Organisations. "{C}" is filled with a city, "{P}" with a surname when the name is used.
COMPANIES = lines("""
Veltrax
Norvik Energy
Quorra Systems
Brightwell Foods
Halden Motors
Corvane Pharma
Maplestone Group
Tervia Telecom
Aldera Capital
Brunvik Shipping
Castellan Insurance
Delmora Airlines
Elvano Media
Fenwick & Rowe
Granger Steel
Harlow Logistics
Istra Mining
Jovian Labs
Kestrel Aerospace
Lumora
Marlowe Retail
Nexaro
Orvella Cosmetics
Pellion Chemicals
Quantis Software
Rosland Breweries
Solvane Solar
Tarragon Foods
Ulvik Paper
Varden Bank
Westmere Holdings
Yarrow Textiles
Zelkova Robotics
Ambry Networks
Bexley & Hart
Cindral
Dovetail Games
Emberline Rail
Foxmoor Hotels
Glenrock Cement
Hollis Pharma
Ironvale Mining
Juniper Grid
Kaveri Motors
Larkspur Health
Mirafield Dairy
Northgate Securities
Oakhurst Bank
Pinecrest Insurance
Redwater Oil
Silverbirch Partners
Thornbury Construction
Umbra Semiconductors
Valecrest Water
Wrenfield Press
Lincoln Freight
Preston & Vale
Florence Capital
{P} & Sons
{P} Brothers
{C} Utilities
{C} Bank
Bank of {C}
{C} Stock Exchange
{C} Power
{C} Airways
""")

INSTITUTIONS = lines("""
Ministry of Finance
Ministry of Health
Ministry of Transport
National Statistics Office
Central Bank
Supreme Court
United Nations
European Union
World Health Organization
Red Cross
Green Party
Progressive Alliance
Farmers Union
Northern Transport Authority
Institute for Coastal Research
Harbour Workers Union
National Theatre Company
Open Data Foundation
Federal Aviation Board
Consumer Rights Council
Maritime Safety Agency
Royal Academy of Sciences
{P} Foundation
{P} Institute
University of {C}
{C} University
{C} City Council
{C} Chamber of Commerce
{C} Police
{C} Times
{C} Herald
{C} Port Authority
{C} Symphony Orchestra
{C} Institute of Technology
""")

TEAMS = lines("""
{C} United
{C} Rovers
{C} City
{C} Athletic
Real {C}
FC {C}
{C} Wanderers
Sporting {C}
{C}
{C}
""")

EVENTS = lines("""
World Cup
Olympic Games
Winter Games
{C} Marathon
{C} Open
{C} Grand Prix
{C} Film Festival
Harvest Festival
Northern Cup
Continental Championship
Golden Quill Award
Silver Lantern Prize
Tech Futures Expo
Coastal Cup
Spring Classic
""")

PRODUCTS = lines("""
Zephyr X2
Aurora Pro
Nimbus 7
Lumo Phone
Orbit Watch
Quill Reader
Strata 5
Pico Drive
Kite Mini
Vega Sport
Tundra GT
Helix Air
Sparrow One
Mosaic OS
Cobalt 9
""")
