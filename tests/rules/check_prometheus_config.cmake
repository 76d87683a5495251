# cmake -DPROMTOOL=... -DSOURCE_DIR=... -DWORK_DIR=... -P check_prometheus_config.cmake
#
# Stages config/prometheus.yml and rules/*.yml in the layout the config
# expects (WORK_DIR/prometheus.yml, WORK_DIR/rules/*.yml) and runs
# `promtool check config`, which also checks every rule file it names.
cmake_minimum_required(VERSION 3.25)
foreach(var PROMTOOL SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/rules)
file(COPY ${SOURCE_DIR}/config/prometheus.yml DESTINATION ${WORK_DIR})
file(GLOB rule_files ${SOURCE_DIR}/rules/*.yml)
file(COPY ${rule_files} DESTINATION ${WORK_DIR}/rules)

execute_process(COMMAND ${PROMTOOL} check config ${WORK_DIR}/prometheus.yml
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "promtool check config failed (${rc})")
endif()
