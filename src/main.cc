#include "app/app.h"

int main(int argc, char** argv) { return pgre::RunApp(argc, argv); }
