# Warnings as errors on our own code (never on third-party headers).
function(e2kvm_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                           -Wnon-virtual-dtor -Wimplicit-fallthrough -Wno-missing-field-initializers
                           -Werror)
endfunction()

# Adds every immediate subdirectory that has a CMakeLists.txt, in name order, so that
# independent parts (tools, test groups) can be added without touching a shared file.
function(e2kvm_add_subdirectories)
    file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
         ${CMAKE_CURRENT_SOURCE_DIR}/*)
    list(SORT children)
    foreach(child ${children})
        if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child}
           AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
            add_subdirectory(${child})
        endif()
    endforeach()
endfunction()
