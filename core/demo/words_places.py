"""Word lists of places for the demos: countries, cities and regions (real and invented)."""
from __future__ import annotations

from core.demo.common import lines

COUNTRIES = lines("""
France
Germany
Spain
Italy
Portugal
Brazil
Argentina
Chile
Peru
Mexico
Canada
Japan
China
India
Kenya
Nigeria
Ghana
Egypt
Morocco
Turkey
Greece
Poland
Sweden
Norway
Finland
Denmark
Ireland
Scotland
Wales
Belgium
Austria
Hungary
Romania
Ukraine
Vietnam
Thailand
Indonesia
Australia
New Zealand
South Africa
South Korea
United States
Saudi Arabia
Sri Lanka
Costa Rica
Jordan
Georgia
Iceland
Colombia
Malaysia
""")

CITIES = lines("""
London
Madrid
Lyon
Milan
Porto
Leeds
Manchester
Glasgow
Dublin
Oslo
Bergen
Hamburg
Munich
Vienna
Prague
Warsaw
Krakow
Budapest
Athens
Istanbul
Cairo
Nairobi
Lagos
Accra
Mumbai
Delhi
Tokyo
Osaka
Seoul
Beijing
Shanghai
Hanoi
Bangkok
Jakarta
Sydney
Melbourne
Perth
Toronto
Vancouver
Chicago
Boston
Denver
Houston
Austin
Seattle
Lima
Bogota
Santiago
Florence
Naples
Seville
Valencia
Lisbon
Geneva
Zurich
Lincoln
Preston
Chester
Victoria
Adelaide
Regina
Buenos Aires
Cape Town
Hong Kong
Los Angeles
New York
San Diego
Rio de Janeiro
Tel Aviv
Kuala Lumpur
New Harlow
New Brenton
New Calder
Port Ellory
Fairhaven
Ashbridge
Kelmarsh
Dunmore Bay
Saint Corvin
Westbrook
Marrow Falls
Oakley Springs
Stonemere
Brackwater
""")

REGIONS = lines("""
Bavaria
Tuscany
Patagonia
Siberia
Yorkshire
Cornwall
Catalonia
Andalusia
Alps
Andes
Sahara
Balkans
Lake Morrow
Mount Keller
Harlow Valley
Cape Ardent
Greywater Coast
Eastern Province
Silver River
Northmoor
""")
