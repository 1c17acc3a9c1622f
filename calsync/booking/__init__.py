"""The booking-system side: the BookingSystem Protocol, its REST client, wire models, conversion and webhook signatures."""
