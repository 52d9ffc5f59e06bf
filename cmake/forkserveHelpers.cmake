# forkserve_add_handler(name sources...)
#
# Builds the handler module NAME.so (no "lib" prefix, so --handler NAME.so
# finds it by the name you gave) from sources that use FORKSERVE_EXPORT_HANDLER:
# compiled with hidden visibility, inline functions included, and linked with
# a version script so forkserve_module_v1 is the only exported symbol, and
# optimised (-O2) when the project sets no build type.
#
# By default the module carries its own copy of libstdc++ and libgcc
# (-static-libstdc++ -static-libgcc). forkserve itself is linked that way,
# so loading a module that needs libstdc++.so would map three more libraries
# into the parent, and every fork() copies the parent's mappings. Only C types
# cross the module boundary, so the module's C++ runtime being private is
# safe. Set FORKSERVE_HANDLER_SHARED_RUNTIME to ON before calling when the
# module links other C++ shared libraries (they bring libstdc++.so anyway, and
# two runtimes in one module is asking for trouble) or when building with
# sanitizers, whose runtimes expect the shared libstdc++.
include_guard(GLOBAL)

function(forkserve_add_handler name)
  set(map "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/forkserve_handler.map")
  if(ARGC LESS 2)
    message(FATAL_ERROR "forkserve_add_handler(${name}): no sources given")
  endif()
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${map}")
  target_link_libraries(${name} PRIVATE forkserve::handler)
  target_link_options(${name} PRIVATE "LINKER:--version-script=${map}")
  if(NOT FORKSERVE_HANDLER_SHARED_RUNTIME)
    target_link_options(${name} PRIVATE -static-libstdc++ -static-libgcc)
  endif()
  # A project configured without a build type compiles with no -O at all;
  # a handler runs on every request, so it gets -O2 unless a type is chosen.
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    target_compile_options(${name} PRIVATE -O2)
  endif()
endfunction()
