"""The admin pages' logic and forms (Credit admin, Pricing & features); pages/ stay layout."""
