app_name = "rebates"
urlpatterns: list = []
