# Installs the nabla build in BUILD_DIR into a fresh prefix under WORK_DIR, then configures, builds
# and runs the consumer project (SOURCE_DIR) against it with find_package(nabla). Run by CTest as
# `cmake -P`; any failing step fails the test with that step's output.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${name} failed (${rc})\n${out}\n${err}")
  endif()
  message(STATUS "consumer test: ${name} ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run_step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run_step("configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G "${GENERATOR}"
         -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
         -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
# The consumer must have found the fresh install, not some other nabla on the machine.
file(STRINGS ${build}/CMakeCache.txt nabla_dir_line REGEX "^nabla_DIR:")
string(FIND "${nabla_dir_line}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "consumer test: find_package(nabla) did not use ${prefix}: ${nabla_dir_line}")
endif()
run_step("build" ${CMAKE_COMMAND} --build ${build})
run_step("run" ${build}/consumer)
message(STATUS "${step_output}")
