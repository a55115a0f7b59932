"""What the pages print: view models, formatted numbers and chart figures, from service views."""
