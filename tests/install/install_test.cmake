# SPDX-License-Identifier: GPL-2.0-or-later
# tests/install/install_test.cmake - `cmake --install` into a DESTDIR lays out what packagers expect
#
# Run by ctest as `cmake -DBUILD_DIR=... -DROOT=... -P install_test.cmake`.
# Installs the build under prefix /usr/local into DESTDIR=ROOT and checks
# the binary, the manual page, and the libexec/pastad/pasta link Podman
# finds as its pasta helper: it must resolve to the installed pastad
# inside ROOT (a relative link), and answer --version.
foreach(var BUILD_DIR ROOT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "${var} must be given with -D${var}=...")
    endif()
endforeach()

set(prefix /usr/local)
file(REMOVE_RECURSE "${ROOT}")
file(MAKE_DIRECTORY "${ROOT}")
set(ENV{DESTDIR} "${ROOT}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}")
endif()

set(bin "${ROOT}${prefix}/bin/pastad")
set(man "${ROOT}${prefix}/share/man/man1/pastad.1")
set(link "${ROOT}${prefix}/libexec/pastad/pasta")
foreach(path "${bin}" "${man}")
    if(NOT EXISTS "${path}" OR IS_DIRECTORY "${path}")
        message(FATAL_ERROR "not installed: ${path}\n${out}")
    endif()
endforeach()
if(NOT IS_SYMLINK "${link}")
    message(FATAL_ERROR "not a symbolic link: ${link}\n${out}")
endif()
file(READ_SYMLINK "${link}" target)
if(IS_ABSOLUTE "${target}")
    message(FATAL_ERROR "${link} -> ${target}: absolute, so it does not resolve inside DESTDIR")
endif()
file(REAL_PATH "${link}" resolved)
file(REAL_PATH "${bin}" bin_resolved)
if(NOT resolved STREQUAL bin_resolved)
    message(FATAL_ERROR "${link} resolves to ${resolved}, not ${bin_resolved}")
endif()

execute_process(COMMAND "${link}" --version RESULT_VARIABLE rc OUTPUT_VARIABLE version
                ERROR_VARIABLE version)
if(NOT rc EQUAL 0 OR NOT version MATCHES "^pastad [0-9]")
    message(FATAL_ERROR "${link} --version: status ${rc}, output:\n${version}")
endif()
file(REMOVE_RECURSE "${ROOT}")
message(STATUS "installed layout under ${ROOT}${prefix} is complete")
